"""Run a node file's KV stores: TCP server, AMQP service and scheduled reads together.

``flubber serve NODE.yaml`` is :func:`serve_node`; a script can do the same::

    from flubber.kvstore.serve import NodeServer
    with NodeServer.from_file("lab.yaml") as server:
        server.node.stores["kv"].endpoint("setpoint").set_value(21)
        server.serve_forever()
"""
import logging

from flubber._lifecycle import Service
from flubber.kvstore._defaults import DEFAULT_HOST, DEFAULT_PORT
from flubber.kvstore.config import NodeConfig, load_node_config
from flubber.kvstore.persist import Persister, open_state
from flubber.kvstore.tcp import KVTCPServer, server_ssl_context

logger = logging.getLogger(__name__)


class NodeServer(Service):
    """The running KV part of a node: its :class:`~flubber.kvstore.KVNode` and transports.

    :param config: a :class:`~flubber.kvstore.config.NodeConfig`.
    :param node: an already built node (default: built from *config*).

    Nothing runs until :meth:`start`. :meth:`stop` undoes everything
    started, and a stopped server starts again with new transports. The
    lifecycle is flubber's one (:doc:`/lifecycle`); ``close`` is an alias
    of :meth:`stop`.
    """

    def __init__(self, config, node=None):
        #: The configuration served.
        self.config = config
        #: The :class:`~flubber.kvstore.KVNode`.
        self.node = node if node is not None else config.build_node()
        #: The :class:`~flubber.kvstore.KVTCPServer` while running with TCP on, else None.
        self.tcp_server = None
        #: The :class:`~flubber.kvstore.AMQPService` while running with AMQP on, else None.
        self.amqp_service = None
        #: The :class:`~flubber.kvstore.persist.Persister` of the ``persist: true`` keys, or None
        #: when no key persists. It restores their values at :meth:`start`, before anything serves.
        self.persister = make_persister(self.node, config.persist) if config.persist else None

    @classmethod
    def from_file(cls, path, extra_sections=()):
        """Load the node file at *path* and return a (not started) server for it."""
        return cls(load_node_config(path, extra_sections=extra_sections))

    @property
    def tcp_address(self):
        """``(host, port)`` the TCP server listens on, or None."""
        return self.tcp_server.sockname[:2] if self.tcp_server is not None else None

    def start(self):
        """Bind TCP, connect AMQP (in the background), start scheduled reads; return self."""
        return super().start()

    def _start(self):
        tcp, amqp = self.config.tcp, self.config.amqp
        try:
            if self.persister is not None:
                self.persister.restore(reset=bool(self.config.persist.get("reset")))
                self.persister.start()
            if tcp is not None:
                tls = tcp.get("tls")
                server = KVTCPServer(self.node, max_connections=tcp.get("max_connections"),
                                     max_request_bytes=tcp.get("max_request_bytes"),
                                     ssl_context=server_ssl_context(tls["cert"], tls.get("key")) if tls else None,
                                     tokens=tcp.get("tokens"), idle_timeout=tcp.get("idle_timeout"))
                server.bind((tcp["host"], tcp["port"]))
                server.start()
                self.tcp_server = server
                logger.info("node %s: dripline over TCP on %s:%s", self.node.name, *self.tcp_address)
            if amqp is not None:
                from flubber.kvstore.amqp import AMQPService  # needs pika: only when AMQP is configured
                self.amqp_service = AMQPService(
                    self.node, amqp["url"], queue=amqp.get("queue"), workers=amqp.get("workers", 4),
                    alert_version=4 if amqp.get("alerts") == "dripline4" else 3,
                    max_request_bytes=amqp.get("max_request_bytes")).start()
            self.node.start()
        except BaseException:
            self._stop(None)
            raise

    def stop(self, timeout=None):
        """Stop scheduled reads, the TCP server and the AMQP service (each within *timeout*). Idempotent."""
        return super().stop(timeout)

    def close(self, timeout=None):
        """The same as :meth:`stop`."""
        return self.stop(timeout)

    def _stop(self, timeout):
        self.node.stop(timeout)
        server, self.tcp_server = self.tcp_server, None
        if server is not None:
            server.stop(timeout)
        service, self.amqp_service = self.amqp_service, None
        if service is not None:
            service.stop(timeout)
        if self.persister is not None:  # after the transports: the last set is saved too
            self.persister.stop(timeout)


def persisted_keys(node):
    """The keys of *node* (a :class:`~flubber.kvstore.KVNode`) declared ``persist: true``, in store order."""
    return [key for store in node.stores.values() for key in store.endpoints.values()
            if getattr(key, "persist", False)]


def make_persister(node, settings):
    """Return the :class:`~flubber.kvstore.persist.Persister` of *node*'s persisted keys, or None without any."""
    keys = persisted_keys(node)
    if not keys:
        return None
    return Persister(node.name, open_state(settings, node.name), keys)


def serve_node(config, tcp=None, amqp=None, ready=None):
    """Serve a node file until SIGINT/SIGTERM.

    :param config: a path or a :class:`~flubber.kvstore.config.NodeConfig`.
    :param tcp: override the ``tcp`` section (a dict, or False to turn TCP off).
    :param amqp: override the ``amqp`` URL (a string, or False to turn AMQP off).
    :param ready: called with the started :class:`NodeServer` (e.g. to print where it listens).
    """
    if not isinstance(config, NodeConfig):
        config = load_node_config(config)
    if tcp is not None:
        if tcp:
            settings = {"host": DEFAULT_HOST, "port": DEFAULT_PORT}
            settings.update(config.tcp or {})
            settings.update(tcp)
            config.tcp = settings
        else:
            config.tcp = None
    if amqp is not None:
        config.amqp = dict(config.amqp or {}, url=amqp) if amqp else None
    server = NodeServer(config)
    server.start()
    if ready is not None:
        ready(server)
    server.serve_forever()
    return server
