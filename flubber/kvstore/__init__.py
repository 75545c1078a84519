"""flubber.kvstore: a dripline-style key-value store served over TCP or RabbitMQ.

A :class:`KVStore` holds :class:`KVStoreKey` objects (the seed's
``kv_store`` / ``kv_store_key``); a :class:`KVNode` serves stores under
``node.store.key`` addresses; :class:`KVTCPServer` (JSON lines, no broker)
and :class:`AMQPService` (RabbitMQ, the dripline wire format) carry the
requests; :class:`TCPKVClient` and :class:`AMQPKVClient` send them.

Every public name is exported here. The modules behind them:
:mod:`flubber.kvstore.store`, :mod:`flubber.kvstore.key`,
:mod:`flubber.kvstore.node` (stores, keys, the node),
:mod:`flubber.kvstore.values`, :mod:`flubber.kvstore.calibration` and
:mod:`flubber.kvstore.rules` (what a key accepts and does with a value), :mod:`flubber.kvstore.alerts` (alert sinks),
:mod:`flubber.kvstore.tcp`, :mod:`flubber.kvstore.client` and
:mod:`flubber.kvstore.amqp` (transports; the AMQP names need the ``amqp``
extra and are imported on first use), :mod:`flubber.kvstore.config` and
:mod:`flubber.kvstore.serve` (node files and the node server), :mod:`flubber.kvstore.persist`
(``persist: true`` keys kept across a restart).
"""
import importlib.util

from flubber.kvstore._dripline import (
    BROADCAST_KEY, OP_CMD, OP_CONFIG, OP_GET, OP_RUN, OP_SEND, OP_SET, T_ALERT, T_REPLY, T_REQUEST, Alert, Reply, Request,
    decode_reply, decode_request, encode_json, normalize_lockout_key,
)
from flubber.kvstore._dripline4 import AMQPMessage, alert_messages
from flubber.kvstore._endpoint import Endpoint
from flubber.kvstore._exceptions import (
    AccessDenied, AMQPConnectionError, AMQPError, AMQPRoutingKeyError, AMQPTimeoutError, CalibrationError,
    ConfigError, DecodingError, DriplineError, HardwareConnectionError, HardwareError, HardwareResponselessError,
    InternalError, InvalidKey, InvalidValue, KVStoreError, MethodNotSupported, NoActionWarning, PayloadError,
    RequestTimeout, TransportError, UnhandledError, exception_for_retcode,
)
from flubber.kvstore.alerts import ContinuousLoggerSink, LoggingSink, QueueSink
from flubber.kvstore.calibration import Calibration, calibrate, times2, times3
from flubber.kvstore.client import KVClient, TCPKVClient, connect
from flubber.kvstore.config import NodeConfig, load_node_config, parse_node_config, register_module
from flubber.kvstore.key import KVStoreKey, kv_store_key
from flubber.kvstore.node import KVNode
from flubber.kvstore.persist import Persister, StateDatabase, StateError, StateFile
from flubber.kvstore.rules import BroadcastRule
from flubber.kvstore.serve import NodeServer, serve_node
from flubber.kvstore.store import KVStore, kv_store
from flubber.kvstore.tcp import DEFAULT_PORT, KVTCPServer, serve_tcp

_AMQP_NAMES = ("AMQPService", "AMQPKVClient", "serve_amqp")


def __getattr__(name):
    # The AMQP names need pika (the "amqp" extra): imported on first use only.
    if name in _AMQP_NAMES:
        try:
            from flubber.kvstore import amqp
        except ModuleNotFoundError as exc:
            if exc.name != "pika":
                raise
            raise ImportError("flubber.kvstore.%s needs pika: pip install 'flubber[amqp]'" % name) from exc
        return getattr(amqp, name)
    raise AttributeError("module 'flubber.kvstore' has no attribute %r" % name)

__all__ = [
    # stores and keys (the seed's names are aliases)
    "KVStore", "KVStoreKey", "kv_store", "kv_store_key", "Endpoint", "KVNode",
    "times2", "times3", "Calibration", "calibrate", "BroadcastRule",
    # transports, clients, node files
    "KVTCPServer", "serve_tcp", "DEFAULT_PORT", "KVClient", "TCPKVClient", "connect", "NodeConfig", "load_node_config", "parse_node_config", "register_module",
    "NodeServer", "serve_node", "Persister", "StateFile", "StateDatabase", "StateError",
    # alert sinks
    "ContinuousLoggerSink", "QueueSink", "LoggingSink",
    # dripline messages
    "Request", "Reply", "Alert", "decode_request", "decode_reply", "encode_json", "normalize_lockout_key",
    "AMQPMessage", "alert_messages",
    "BROADCAST_KEY", "OP_SET", "OP_GET", "OP_CONFIG", "OP_SEND", "OP_RUN", "OP_CMD", "T_REPLY", "T_REQUEST", "T_ALERT",
    # exceptions
    "KVStoreError", "DriplineError", "AMQPError", "AMQPConnectionError", "AMQPRoutingKeyError", "AMQPTimeoutError",
    "HardwareError",
    "HardwareConnectionError", "HardwareResponselessError", "InternalError", "DecodingError", "PayloadError",
    "InvalidValue", "CalibrationError", "RequestTimeout", "MethodNotSupported", "AccessDenied", "InvalidKey",
    "UnhandledError", "NoActionWarning", "ConfigError", "TransportError", "exception_for_retcode",
]
try:
    _HAVE_PIKA = importlib.util.find_spec("pika") is not None
except (ImportError, ValueError):  # a finder that refuses it, or a None in sys.modules
    _HAVE_PIKA = False
if _HAVE_PIKA:
    # named by ``import *`` only where they can be imported: without pika, ``from flubber.kvstore
    # import *`` still works and ``flubber.kvstore.AMQPService`` says to install the amqp extra
    __all__ += list(_AMQP_NAMES)
