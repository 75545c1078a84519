"""The dripline client on RabbitMQ: :class:`AMQPKVClient` sends requests through a broker."""
import contextlib
import itertools
import logging
import os

import gevent
import gevent.event
import gevent.lock
import pika
import pika.exceptions

from flubber.kvstore import _dripline, _dripline4
from flubber.kvstore._amqp_link import REQUESTS_EXCHANGE, Link, message_properties, safe_url, url_parameters
from flubber.kvstore._base_client import KVClient
from flubber.kvstore._dripline import CONTENT_ENCODING, Reply
from flubber.kvstore._exceptions import (
    AMQPConnectionError, AMQPRoutingKeyError, ConfigError, DriplineError, RequestTimeout,
)

logger = logging.getLogger(__name__)


class AMQPKVClient(KVClient):
    """Send dripline requests through RabbitMQ (to flubber or dripline services).

    :param url: the broker, ``amqp://guest:guest@127.0.0.1:5672/%2F``.
    :param timeout: default seconds to wait for a reply.
    :param dripline: the version of the requests it sends: 3 (one JSON
        body) or 4 (headers and payload as dripline-cpp lays them out: the
        target's first word is the routing key, the rest the ``specifier``).
        Replies are read in whichever version they come.

    Connects on the first request. Replies arrive in an exclusive,
    broker-named queue (also bound to ``requests`` under its own name, as
    dripline services publish replies there). A request nobody is bound to
    is returned by the broker and answered with retcode 102 at once.
    """

    #: Seconds allowed to connect and set up.
    setup_timeout = 10.0

    def __init__(self, url, timeout=None, dripline=3):
        if dripline not in (3, 4):
            raise ConfigError("dripline must be 3 or 4 (the version of the requests), got %r" % (dripline,))
        super().__init__(timeout)
        #: The broker URL.
        self.url = url
        #: The dripline version of the requests sent (3 or 4).
        self.dripline = dripline
        url_parameters(url)
        self._chunks = _dripline4.ChunkAssembler()
        self._link = None
        self._reply_queue = None
        self._pending = {}
        self._lock = gevent.lock.Semaphore()
        self._ids = itertools.count(1)
        self._prefix = "%x-%x-" % (os.getpid(), id(self) & 0xFFFFFF)

    def connect(self):
        """Connect now (requests do it on demand); return self."""
        self._ensure_link()
        return self

    def _ensure_link(self):
        link = self._link
        if link is not None and link.is_open:
            return link
        with self._lock:
            link = self._link
            if link is not None and link.is_open:
                return link
            link = Link(self.url, "flubber client %d" % os.getpid())
            try:
                link.open(self.setup_timeout)
                channel = link.channel
                link.ensure_exchange(REQUESTS_EXCHANGE, timeout=self.setup_timeout)
                frame = link.call(channel.queue_declare, queue="", exclusive=True, auto_delete=True,
                                  timeout=self.setup_timeout)
                queue = frame.method.queue
                link.call(channel.queue_bind, queue=queue, exchange=REQUESTS_EXCHANGE, routing_key=queue,
                          timeout=self.setup_timeout)
                channel.add_on_return_callback(self._on_return)
                link.call(channel.basic_consume, queue=queue, on_message_callback=self._on_reply, auto_ack=True,
                          timeout=self.setup_timeout)
            except (AMQPConnectionError, pika.exceptions.AMQPError) as exc:
                link.abort()
                if isinstance(exc, AMQPConnectionError):
                    raise
                raise AMQPConnectionError("cannot set up with the broker at %s: %s" % (safe_url(self.url), exc)) \
                    from None
            gevent.spawn(self._fail_pending_on_close, link)
            self._reply_queue = queue
            self._link = link
            return link

    def _fail_pending_on_close(self, link):
        link.closed.wait()
        for result in list(self._pending.values()):
            result.set_exception(AMQPConnectionError("lost the broker while waiting for a reply: %s" % link.reason))

    def _on_reply(self, _channel, _method, properties, body):  # in the hub
        result = self._pending.get(properties.correlation_id)
        if result is None:
            logger.debug("dropping a reply nobody waits for (%r)", properties.correlation_id)
            return
        try:
            if _dripline4.is_v4(properties.headers):
                whole = self._chunks.add(properties.message_id, properties.headers, body)
                if whole is None:
                    return          # more chunks to come
                reply = _dripline4.decode_reply(whole[0], whole[1], properties.correlation_id)
            else:
                reply = _dripline.decode_reply(body)
        except DriplineError as exc:
            result.set_exception(exc)
            return
        result.set(reply)

    def _on_return(self, _channel, method, properties, _body):  # in the hub
        result = self._pending.get(properties.correlation_id)
        if result is not None:
            target = method.routing_key.split(".")[0]
            result.set(Reply(AMQPRoutingKeyError.retcode,
                             "no node is serving %r right now (the broker says %s); it may be reconnecting to the "
                             "broker (try again in a few seconds), or no node has an endpoint of that name"
                             % (target, method.reply_text)))

    def send_request(self, request, timeout=None):
        """Publish *request* to the requests exchange; return the :class:`~flubber.kvstore.Reply`."""
        timeout = self.timeout if timeout is None else timeout
        result = gevent.event.AsyncResult()
        with self._publishing(request, result):
            try:
                return result.get(timeout=timeout)
            except gevent.Timeout:
                raise RequestTimeout("no reply for %r within %g s through %s"
                                     % (request.target, timeout, safe_url(self.url))) from None

    def gather(self, request, timeout=1.0, expect=None, on_reply=None):
        """Publish *request* once and return every :class:`~flubber.kvstore.Reply` that comes within *timeout*.

        For a request many services are bound to, such as ``cmd broadcast
        ping`` (every node answers it): the replies in the order they came,
        after *timeout* seconds, or as soon as *expect* replies are in
        (``[]`` when nobody answered). *on_reply*, when given, is called with
        each reply as it arrives (in the hub: it must not block).

        :raises AMQPConnectionError: the broker cannot be reached, or the
            connection was lost while replies were coming in.
        """
        collector = _Collector(expect, on_reply)
        with self._publishing(request, collector, mandatory=False):
            collector.done.wait(timeout)
        if collector.error is not None:
            raise collector.error
        return collector.replies

    @contextlib.contextmanager
    def _publishing(self, request, result, mandatory=True):
        """Publish *request* with a fresh correlation id; its replies go to *result* while the block runs.

        *mandatory*: the broker returns a request nobody is bound to (answered 102 at once).
        """
        link = self._ensure_link()
        if self.dripline == 4:
            correlation_id = _dripline4.new_uuid()
        else:
            correlation_id = self._prefix + str(next(self._ids))
        self._pending[correlation_id] = result
        try:
            request.correlation_id = None
            if self.dripline == 4:
                for message in _dripline4.request_messages(request, self._reply_queue, correlation_id):
                    link.channel.basic_publish(exchange=REQUESTS_EXCHANGE, routing_key=message.routing_key,
                                               body=message.body, properties=message_properties(message),
                                               mandatory=mandatory)
            else:
                link.channel.basic_publish(
                    exchange=REQUESTS_EXCHANGE, routing_key=request.target,
                    body=_dripline.encode_json(request.to_dict(with_target=False)),
                    properties=pika.BasicProperties(reply_to=self._reply_queue, correlation_id=correlation_id,
                                                    content_encoding=CONTENT_ENCODING, app_id="flubber"),
                    mandatory=mandatory,
                )
            yield link
        except pika.exceptions.AMQPError as exc:
            raise AMQPConnectionError("lost the broker at %s: %s" % (safe_url(self.url), exc)) from None
        finally:
            self._pending.pop(correlation_id, None)

    def close(self):
        """Close the broker connection."""
        link, self._link = self._link, None
        if link is not None:
            link.close()

    def __repr__(self):
        return "AMQPKVClient(%s%s)" % (safe_url(self.url), ", dripline=4" if self.dripline == 4 else "")


class _Collector:
    """Where :meth:`AMQPKVClient.gather` collects replies (it quacks like the AsyncResult of one reply)."""

    def __init__(self, expect=None, on_reply=None):
        self.replies = []
        self.expect = expect
        self.on_reply = on_reply
        self.error = None
        self.done = gevent.event.Event()

    def set(self, reply):
        self.replies.append(reply)
        if self.on_reply is not None:
            self.on_reply(reply)
        if self.expect is not None and len(self.replies) >= self.expect:
            self.done.set()

    def set_exception(self, exc):
        if isinstance(exc, AMQPConnectionError):
            self.error = exc
            self.done.set()
        else:  # one undecodable reply: keep the others
            logger.warning("dropping a reply that cannot be decoded: %s", exc)
