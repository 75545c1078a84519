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
from flubber.kvstore._base_client import KVClient
from flubber.kvstore._defaults import DEFAULT_HOST, DEFAULT_PORT
from flubber.kvstore._exceptions import DecodingError, RequestTimeout, TransportError

logger = logging.getLogger(__name__)


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
        from flubber.kvstore._amqp_client import AMQPKVClient  # needs pika: only for a broker URL
        return AMQPKVClient(address, timeout=timeout)
    return TCPKVClient(address, timeout=timeout)
