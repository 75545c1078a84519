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

from flubber.io import StreamError, TCPClient, TLSError, parse_tcp_address
from flubber.kvstore import _dripline
from flubber.kvstore._base_client import KVClient
from flubber.kvstore._defaults import DEFAULT_HOST, DEFAULT_PORT
from flubber.kvstore._exceptions import ConfigError, DecodingError, RequestTimeout, TransportError
from flubber.kvstore.tcp import client_ssl_context

logger = logging.getLogger(__name__)


class TCPKVClient(KVClient):
    """Send requests to a :class:`~flubber.kvstore.KVTCPServer` (``flubber serve``).

    :param address: ``"host:port"``, ``"host"``, ``(host, port)`` or a port;
        the default is ``127.0.0.1:8600``.
    :param timeout: default seconds to wait for a reply (and to connect).
    :param token: the write token sent with every request (for a node whose
        ``tcp`` section has ``tokens``); None sends none.
    :param ca: a CA file (PEM): connect with TLS and accept only a server
        certificate it signed. *ssl_context* instead gives the whole
        :class:`ssl.SSLContext`.
    :param server_hostname: the name the server's certificate must carry
        (default: the host connected to).

    One TCP connection, opened on the first request; greenlets sharing a
    client take turns. After a timeout or a broken connection the next
    request reconnects.
    """

    def __init__(self, address=None, timeout=None, token=None, ca=None, ssl_context=None, server_hostname=None):
        super().__init__(timeout)
        #: ``(host, port)`` of the server.
        self.address = parse_address(address)
        #: The write token sent with each request, or None.
        self.token = token or None
        if ssl_context is None and ca is not None:
            try:
                ssl_context = client_ssl_context(ca)
            except (OSError, ValueError) as exc:
                raise ValueError("cannot use the CA file %s: %s" % (ca, exc)) from None
        #: The :class:`ssl.SSLContext` of a TLS connection, or None for plain TCP.
        self.ssl_context = ssl_context
        self.server_hostname = server_hostname
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
        stream = TCPClient(ssl_context=self.ssl_context, server_hostname=self.server_hostname)
        try:
            stream.connect(self.address, timeout=timeout)
        except TLSError as exc:
            raise TransportError(
                "cannot talk TLS with the KV store at %s:%s (%s); check --ca (the CA that signed the node's "
                "certificate) and that the node's tcp section has tls" % (self.address[0], self.address[1], exc)
            ) from exc
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
        if request.token is None and self.token is not None:
            request.token = self.token
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
                            hint = ("" if self.ssl_context is not None else
                                    "; if the node uses TLS (tcp: tls: in its node file), connect with its CA: "
                                    "--ca FILE")
                            raise TransportError("the server at %s:%s closed the connection before replying%s"
                                                 % (self.address[0], self.address[1], hint))
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


def connect(address=None, timeout=None, token=None, ca=None, dripline=3):
    """Return a client for *address*: an ``amqp://`` URL gives an AMQP client, anything else TCP.

    *token* and *ca* are those of :class:`TCPKVClient` (TCP only: over AMQP
    the broker's users and permissions decide who may send what).
    *dripline* (3 or 4) is the version of the requests an AMQP client sends;
    the TCP transport speaks dripline 3 only.

    >>> kv = connect("127.0.0.1:8600")     # doctest: +SKIP
    >>> kv.get("setpoint")                 # doctest: +SKIP
    """
    if isinstance(address, str) and address.startswith(("amqp://", "amqps://")):
        from flubber.kvstore._amqp_client import AMQPKVClient  # needs pika: only for a broker URL
        return AMQPKVClient(address, timeout=timeout, dripline=dripline)
    if dripline != 3:
        raise ConfigError("dripline %r is only spoken over AMQP; give a broker URL (amqp://...) "
                          "or use dripline 3 over TCP" % (dripline,))
    return TCPKVClient(address, timeout=timeout, token=token, ca=ca)
