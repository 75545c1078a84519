"""Clients: send dripline requests to a node over TCP (or AMQP, :mod:`flubber.kvstore.amqp`).

One-line use::

    from flubber.kvstore import connect
    kv = connect("127.0.0.1:8600")            # or connect("amqp://guest:guest@127.0.0.1/")
    kv.set("setpoint", 21.5)
    kv.get("setpoint")                         # {'value_raw': 21.5, 'value_cal': 43.0}
    key = kv.lock("setpoint")
    kv.set("setpoint", 22, lockout_key=key)
    kv.unlock("setpoint", lockout_key=key)

:meth:`KVClient.request` returns the :class:`~flubber.kvstore.Reply`;
:meth:`~KVClient.get`, :meth:`~KVClient.set` and :meth:`~KVClient.cmd`
return its payload and raise the exception of an error retcode (see
:func:`~flubber.kvstore.exception_for_retcode`) unless ``ignore_retcode``.
"""
import itertools
import logging
import os

import gevent
import gevent.lock

from flubber.io import StreamError, TCPClient, parse_tcp_address
from flubber.kvstore import _dripline
from flubber.kvstore._dripline import OP_CMD, OP_GET, OP_SET, Request
from flubber.kvstore._exceptions import DecodingError, RequestTimeout, TransportError
from flubber.kvstore.tcp import DEFAULT_HOST, DEFAULT_PORT

logger = logging.getLogger(__name__)


class KVClient:
    """What every client offers; a transport implements :meth:`send_request`.

    :param timeout: default seconds to wait for a reply.
    """

    #: Default seconds to wait for a reply.
    timeout = 10.0

    def __init__(self, timeout=None):
        if timeout is not None:
            self.timeout = timeout
        self._sender_info = _dripline.sender_info("client")

    def send_request(self, request, timeout=None):  # pragma: no cover - abstract
        """Send a :class:`~flubber.kvstore.Request`; return the :class:`~flubber.kvstore.Reply`."""
        raise NotImplementedError

    def close(self):
        """Release the connection (a closed client reconnects on its next request)."""

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    def request(self, target, msgop, payload=None, lockout_key=None, timeout=None):
        """Send one request and return the :class:`~flubber.kvstore.Reply` (never raises for a retcode).

        :param target: endpoint name or ``node.store.key``, optionally ``.SPECIFIER``.
        :param msgop: :data:`~flubber.kvstore.OP_GET`, :data:`~flubber.kvstore.OP_SET`, ...
        :raises TransportError: the server cannot be reached.
        :raises RequestTimeout: no reply within *timeout*.
        """
        request = Request(target, msgop, payload if payload is not None else {"values": []},
                          lockout_key=lockout_key or None, timestamp=_dripline.format_timestamp(),
                          sender_info=self._sender_info)
        return self.send_request(request, timeout=timeout)

    def get(self, target, timeout=None, ignore_retcode=False):
        """Get *target*; return the reply payload (``{"value_raw": ..., "value_cal": ...}`` for a key)."""
        return _dripline.reply_result(self.request(target, OP_GET, {"values": []}, timeout=timeout), ignore_retcode)

    def set(self, target, value, lockout_key=None, timeout=None, ignore_retcode=False):
        """Set *target* to *value* (sent as given); return the reply payload."""
        return _dripline.reply_result(self.request(target, OP_SET, {"values": [value]}, lockout_key, timeout), ignore_retcode)

    def cmd(self, target, method_name, value=(), payload=None, lockout_key=None, timeout=None,
            ignore_retcode=False):
        """Call *method_name* on *target* with positional *value* and keyword *payload*; return the payload."""
        target, body = _dripline.cmd_request(target, method_name, value, payload)
        return _dripline.reply_result(self.request(target, OP_CMD, body, lockout_key, timeout), ignore_retcode)

    def value(self, target, timeout=None):
        """Return the value of key *target*: ``value_cal`` when calibrated, else ``value_raw``."""
        payload = self.get(target, timeout=timeout)
        if "value_cal" in payload:
            return payload["value_cal"]
        if "value_raw" in payload:
            return payload["value_raw"]
        values = payload.get("values")
        return values[0] if values else None

    def lock(self, target, lockout_key=None, timeout=None):
        """Lock *target*; return the lockout key."""
        return self.cmd(target, "lock", lockout_key=lockout_key, timeout=timeout)["key"]

    def unlock(self, target, lockout_key=None, force=False, timeout=None):
        """Unlock *target* with its *lockout_key*, or with ``force=True``."""
        payload = {"force": True} if force else None
        return self.cmd(target, "unlock", payload=payload, lockout_key=lockout_key, timeout=timeout,
                        ignore_retcode=False)

    def ping(self, target, timeout=None):
        """Ping *target*; raise unless it answers."""
        return self.cmd(target, "ping", timeout=timeout)


class TCPKVClient(KVClient):
    """Send requests to a :class:`~flubber.kvstore.KVTCPServer` (``flubber serve``).

    :param address: ``"host:port"``, ``"host"``, ``(host, port)`` or a port;
        the default is ``127.0.0.1:8600``.
    :param timeout: default seconds to wait for a reply (and to connect).

    One TCP connection, opened on the first request; greenlets sharing a
    client take turns. After a timeout or a broken connection the next
    request reconnects.
    """

    def __init__(self, address=None, timeout=None):
        super().__init__(timeout)
        #: ``(host, port)`` of the server.
        self.address = parse_address(address)
        self._stream = None
        self._lock = gevent.lock.Semaphore()
        self._ids = itertools.count(1)
        self._prefix = "%x-" % os.getpid()

    def connect(self, timeout=None):
        """Open the connection now (requests do it on demand); return self."""
        with self._lock:
            self._connect(self.timeout if timeout is None else timeout)
        return self

    def _connect(self, timeout):
        if self._stream is not None and not self._stream.closed:
            return self._stream
        stream = TCPClient()
        try:
            stream.connect(self.address, timeout=timeout)
        except StreamError as exc:
            raise TransportError(
                "cannot reach the KV store at %s:%s (%s); is `flubber serve` running there?"
                % (self.address[0], self.address[1], exc)
            ) from exc
        self._stream = stream
        return stream

    def close(self):
        """Close the connection."""
        stream, self._stream = self._stream, None
        if stream is not None:
            stream.close()

    def send_request(self, request, timeout=None):
        """Send *request*; return the :class:`~flubber.kvstore.Reply` with the same correlation_id."""
        timeout = self.timeout if timeout is None else timeout
        if request.correlation_id is None:
            request.correlation_id = self._prefix + str(next(self._ids))
        data = _dripline.encode_json(request.to_dict()) + b"\n"
        with self._lock:
            try:
                with gevent.Timeout(timeout, RequestTimeout("no reply from %s:%s within %g s"
                                                            % (self.address[0], self.address[1], timeout))):
                    stream = self._connect(timeout)
                    stream.write(data)
                    while True:
                        line = stream.read_until(b"\n", max_bytes=64 * 1024 * 1024)
                        if not line.endswith(b"\n"):
                            raise TransportError("the server at %s:%s closed the connection before replying"
                                                 % self.address[:2])
                        reply = _dripline.decode_reply(line)
                        if reply.correlation_id in (request.correlation_id, None):
                            return reply
                        logger.debug("dropping a stale reply %r", reply.correlation_id)
            except RequestTimeout:
                self.close()
                raise
            except StreamError as exc:
                self.close()
                raise TransportError("connection to %s:%s failed: %s" % (self.address[0], self.address[1], exc)) \
                    from exc
            except (TransportError, DecodingError):
                self.close()
                raise

    def __repr__(self):
        return "TCPKVClient(%s:%s)" % self.address[:2]


def parse_address(address):
    """Return ``(host, port)`` for a TCP server address; the port defaults to 8600.

    Raises :class:`ValueError` for a URL other than ``amqp://`` (see :func:`connect`)
    and for a port that is not a number.
    """
    if address is None:
        return DEFAULT_HOST, DEFAULT_PORT
    if isinstance(address, str) and not address.strip().isdigit():
        text = address.strip()
        if "://" in text:
            raise ValueError("%r: a KV store is reached at HOST[:PORT] (e.g. labpc:8600) or through a broker, "
                             "amqp://user:password@host:5672/%%2F" % (address,))
        if text.count(":") == 1 and not text.startswith("[") and not text.rpartition(":")[2].isdigit():
            raise ValueError("%r: the port must be a number, e.g. labpc:8600" % (address,))
        has_port = text.rpartition(":")[2].isdigit() if not text.startswith("[") else "]:" in text
        if not has_port or text.count(":") > 1 and not text.startswith("["):
            return (text.strip("[]") or DEFAULT_HOST), DEFAULT_PORT
    return parse_tcp_address(address, default_host=DEFAULT_HOST)


def connect(address=None, timeout=None):
    """Return a client for *address*: an ``amqp://`` URL gives an AMQP client, anything else TCP.

    >>> kv = connect("127.0.0.1:8600")     # doctest: +SKIP
    >>> kv.get("setpoint")                 # doctest: +SKIP
    """
    if isinstance(address, str) and address.startswith(("amqp://", "amqps://")):
        from flubber.kvstore.amqp import AMQPKVClient
        return AMQPKVClient(address, timeout=timeout)
    return TCPKVClient(address, timeout=timeout)
