"""Dripline over RabbitMQ, on pika's gevent adapter.

Layout (dripline 3): topic exchanges ``requests`` and ``alerts``. A node's
:class:`AMQPService` consumes an exclusive queue named after the node, bound
to ``requests`` with ``NAME.#`` for every endpoint name it serves (and the
node name, for ``node.store.key``). A request is a JSON dripline request
message whose routing key is the target; the reply is published to the
request's ``reply_to`` queue (through the default exchange, which reaches a
queue by name whatever its bindings) with the request's ``correlation_id``.
Broadcasts of keys go to ``alerts`` with their ``sensor_value.NAME`` key.

pika calls back in gevent's hub, where nothing may block: the callbacks only
hand deliveries to a queue; worker greenlets answer them. Set-up steps run
in the service greenlet and wait for pika's callbacks through
:class:`gevent.event.AsyncResult`. When the broker goes away the service
reconnects with exponential back-off and binds again.
"""
import itertools
import logging
import os

import gevent
import gevent.event
import gevent.lock
import gevent.queue
import pika
import pika.exceptions
from pika.adapters.gevent_connection import GeventConnection

from flubber.kvstore import _dripline
from flubber.kvstore._dripline import CONTENT_ENCODING, Reply
from flubber.kvstore._exceptions import (
    AMQPConnectionError, AMQPError, AMQPRoutingKeyError, DecodingError, DriplineError, RequestTimeout,
)
from flubber.kvstore.client import KVClient

logger = logging.getLogger(__name__)

#: Exchange requests are published to (topic).
REQUESTS_EXCHANGE = "requests"
#: Exchange alerts (broadcasts of keys) are published to (topic).
ALERTS_EXCHANGE = "alerts"

_NBIO = {}


def _shared_io_services():
    """One pika I/O services adapter per hub, reused by every connection.

    pika's GeventConnection otherwise makes a fresh adapter per connection,
    each with a pipe that is never closed: a reconnecting service would leak
    two descriptors per reconnect. Falls back to pika's default if its
    private classes ever move.
    """
    hub = gevent.get_hub()
    nbio = _NBIO.get(hub)
    if nbio is None:
        try:
            from pika.adapters.gevent_connection import _GeventSelectorIOLoop, _GeventSelectorIOServicesAdapter
        except ImportError:  # pragma: no cover - a future pika
            return None
        nbio = _NBIO[hub] = _GeventSelectorIOServicesAdapter(_GeventSelectorIOLoop(hub))
    return nbio


def url_parameters(url, connection_name=None):
    """Return :class:`pika.URLParameters` for *url* (``amqp://user:pass@host:port/vhost``)."""
    try:
        parameters = pika.URLParameters(url)
    except Exception as exc:  # pika raises several kinds for a malformed URL
        raise AMQPConnectionError(
            "broker URL %r is not usable (%s); write it as amqp://user:password@host:5672/%%2F" % (url, exc)
        ) from None
    if connection_name:
        properties = dict(parameters.client_properties or {})
        properties["connection_name"] = connection_name
        parameters.client_properties = properties
    return parameters


def _safe_url(url):
    if "@" in url:
        scheme, _, rest = url.partition("://")
        return scheme + "://***@" + rest.partition("@")[2]
    return url


def describe_open_error(error):
    """Return in words why pika could not open a connection.

    pika nests the reason (a workflow failure wrapping a connector error
    wrapping, say, :class:`ConnectionRefusedError`) in exceptions whose own
    text is empty; this follows the chain to the first one that says something.
    """
    for _ in range(10):  # the chain is short; never loop on a cycle
        if error is None:
            break
        text = str(error).strip()
        if text:
            return text
        if getattr(error, "exceptions", None):
            inner = error.exceptions[-1]
        elif getattr(error, "exception", None) is not None:
            inner = error.exception
        elif error.args and isinstance(error.args[0], BaseException):
            inner = error.args[0]
        else:
            return type(error).__name__
        error = inner
    return "refused"


class _Link:
    """One pika connection and channel, driven from greenlets.

    :meth:`call` starts a pika RPC and waits (in the calling greenlet) for
    its callback; a connection or channel that closes meanwhile fails every
    waiting call with :class:`AMQPConnectionError`.
    """

    def __init__(self, url, connection_name):
        self.url = url
        self.parameters = url_parameters(url, connection_name)
        self.connection = None
        self.channel = None
        #: Set when the connection (or the channel) closed.
        self.closed = gevent.event.Event()
        #: Why it closed (an exception), or None.
        self.reason = None
        self._waiting = set()

    @property
    def is_open(self):
        return self.channel is not None and self.channel.is_open and not self.closed.is_set()

    def open(self, timeout):
        opened = gevent.event.AsyncResult()

        def on_open_error(_connection, error):
            opened.set_exception(AMQPConnectionError(
                "cannot connect to the broker at %s: %s; is RabbitMQ running there, and are the URL's "
                "user, password and virtual host right?" % (_safe_url(self.url), describe_open_error(error))))

        self.connection = GeventConnection(
            self.parameters, on_open_callback=opened.set, on_open_error_callback=on_open_error,
            on_close_callback=self._on_connection_closed, custom_ioloop=_shared_io_services(),
        )
        try:
            self._wait(opened, timeout, "connect to the broker at %s" % _safe_url(self.url))
        except AMQPConnectionError:
            self.abort()
            raise
        channel = gevent.event.AsyncResult()
        self.connection.channel(on_open_callback=channel.set)
        self.channel = self._wait(channel, timeout, "open a channel")
        self.channel.add_on_close_callback(self._on_channel_closed)
        return self

    def _wait(self, result, timeout, what):
        self._waiting.add(result)
        try:
            return result.get(timeout=timeout)
        except gevent.Timeout:
            raise AMQPConnectionError("the broker did not answer within %g s (%s)" % (timeout, what)) from None
        finally:
            self._waiting.discard(result)

    def call(self, method, *args, timeout=10.0, **kwargs):
        """Run pika RPC *method* (a bound channel method taking ``callback``) and return its frame."""
        if not self.is_open:
            raise AMQPConnectionError("not connected to the broker")
        result = gevent.event.AsyncResult()
        method(*args, callback=result.set, **kwargs)
        return self._wait(result, timeout, getattr(method, "__name__", "rpc"))

    def ensure_exchange(self, name, timeout=10.0):
        """Declare topic exchange *name* as dripline does (not durable, not auto-deleted).

        It runs on a channel of its own: if the exchange already exists with
        other settings (the broker refuses with 406), that channel closes, the
        existing exchange is used, and the link's own channel is unharmed.
        """
        if not self.is_open:
            raise AMQPConnectionError("not connected to the broker")
        done = gevent.event.AsyncResult()
        opened = gevent.event.AsyncResult()
        self.connection.channel(on_open_callback=opened.set)
        channel = self._wait(opened, timeout, "open a channel")
        channel.add_on_close_callback(lambda _channel, reason: done.set(reason))
        channel.exchange_declare(exchange=name, exchange_type="topic", callback=done.set)
        result = self._wait(done, timeout, "declare exchange %r" % name)
        if isinstance(result, Exception):
            if _reply_code(result) != 406:
                raise AMQPError("cannot declare exchange %r: %s" % (name, result))
            logger.info("exchange %r exists with other settings than dripline's; using it as it is", name)
        elif channel.is_open:
            channel.close()

    def _fail_waiting(self, reason):
        for result in list(self._waiting):
            result.set_exception(AMQPConnectionError("lost the broker: %s" % (reason,)))

    def _on_connection_closed(self, _connection, reason):
        self.reason = reason
        self.closed.set()
        self._fail_waiting(reason)

    def _on_channel_closed(self, _channel, reason):
        self.reason = reason
        self.closed.set()
        self._fail_waiting(reason)
        connection = self.connection
        if connection is not None and connection.is_open:
            connection.close()

    def abort(self):
        """Close without waiting (used after failures)."""
        connection = self.connection
        if connection is not None and not (connection.is_closed or connection.is_closing):
            try:
                connection.close()
            except pika.exceptions.AMQPError:
                pass

    def close(self, timeout=5.0):
        """Close the connection and wait (up to *timeout*) until pika confirms."""
        self.abort()
        if self.connection is not None:
            self.closed.wait(timeout)


def _reply_code(reason):
    return getattr(reason, "reply_code", None)


class AMQPService:
    """Serve a :class:`~flubber.kvstore.KVNode` on RabbitMQ (dripline wire format).

    :param node: the node that answers requests.
    :param url: the broker, ``amqp://guest:guest@127.0.0.1:5672/%2F``.
    :param queue: the queue name (default: the node name, like dripline).
    :param workers: greenlets answering requests concurrently.
    :param forward_remote: let the node's stores reach endpoints of other
        nodes through this broker (sets ``node.remote``).

    :meth:`start` returns at once; :meth:`wait_ready` waits until requests
    are consumed. Broadcasts of the node's keys go to the ``alerts`` exchange.
    """

    #: Exchange requests arrive on.
    requests_exchange = REQUESTS_EXCHANGE
    #: Exchange broadcasts go to.
    alerts_exchange = ALERTS_EXCHANGE
    #: Exchange replies are published to ("" is RabbitMQ's default exchange,
    #: which delivers to the queue named by ``reply_to``).
    reply_exchange = ""
    #: Unanswered deliveries the broker may push at once.
    prefetch_count = 64
    #: Seconds before the first reconnect; doubles up to :attr:`reconnect_max_delay`.
    reconnect_delay = 0.5
    #: Longest wait between reconnect attempts.
    reconnect_max_delay = 30.0
    #: Seconds allowed for connecting and each set-up step.
    setup_timeout = 10.0

    def __init__(self, node, url, queue=None, workers=4, forward_remote=True):
        self.node = node
        self.url = url
        self.parameters = url_parameters(url)  # validate early: own nothing until valid
        #: Name of the queue requests arrive in.
        self.queue = queue or node.name or "flubber-%d" % os.getpid()
        self.workers = workers
        self.forward_remote = forward_remote
        #: Set while requests are being consumed.
        self.ready = gevent.event.Event()
        #: How many times the service (re)connected.
        self.connections_made = 0
        #: Alerts dropped because the broker was not connected.
        self.alerts_dropped = 0
        self._link = None
        self._inbox = gevent.queue.Queue()
        self._greenlets = []
        self._stopping = False

    # -- life cycle ----------------------------------------------------------------------
    def start(self):
        """Connect in the background and serve; return self."""
        if self._greenlets:
            return self
        self._stopping = False
        self.node.add_alert_sink(self.publish_alert)
        if self.forward_remote and self.node.remote is None:
            self.node.remote = AMQPKVClient(self.url)
        self._greenlets = [gevent.spawn(self._run)]
        self._greenlets += [gevent.spawn(self._work) for _ in range(self.workers)]
        return self

    def wait_ready(self, timeout=None):
        """Wait until requests are consumed; return True, or False after *timeout* seconds."""
        return self.ready.wait(timeout)

    def stop(self, timeout=5.0):
        """Stop consuming, close the connection and end the greenlets."""
        self._stopping = True
        self.ready.clear()
        try:
            self.node.remove_alert_sink(self.publish_alert)
        except ValueError:
            pass
        if self.forward_remote and isinstance(self.node.remote, AMQPKVClient):
            self.node.remote.close()
            self.node.remote = None
        link, self._link = self._link, None
        if link is not None:
            link.close(timeout)
        gevent.killall(self._greenlets, timeout=timeout)
        self._greenlets = []

    close = stop

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc_info):
        self.stop()

    # -- connection ------------------------------------------------------------------------
    @property
    def binding_keys(self):
        """The binding keys of the request queue: ``NAME.#`` per endpoint name and the node name."""
        names = list(self.node.endpoint_names)
        if self.node.name:
            names.append(self.node.name)
        return [name + ".#" for name in sorted(set(names))]

    def _run(self):
        delay = self.reconnect_delay
        while not self._stopping:
            link = _Link(self.url, "flubber node %s" % self.queue)
            self._link = link
            try:
                link.open(self.setup_timeout)
                self._set_up(link)
            except (AMQPError, AMQPConnectionError, pika.exceptions.AMQPError) as exc:
                link.abort()
                if self._stopping:
                    break
                logger.warning("AMQP %s: %s; retrying in %.1f s", self.queue, exc, delay)
                gevent.sleep(delay)
                delay = min(delay * 2, self.reconnect_max_delay)
                continue
            self.connections_made += 1
            delay = self.reconnect_delay
            self.ready.set()
            logger.info("AMQP %s: serving %d binding keys on %s", self.queue, len(self.binding_keys),
                        _safe_url(self.url))
            link.closed.wait()
            self.ready.clear()
            if self._stopping:
                break
            logger.warning("AMQP %s: lost the broker (%s); reconnecting", self.queue, link.reason)
            link.abort()
            gevent.sleep(delay)

    def _set_up(self, link):
        channel = link.channel
        for exchange in (self.requests_exchange, self.alerts_exchange):
            link.ensure_exchange(exchange, timeout=self.setup_timeout)
        try:
            link.call(channel.queue_declare, queue=self.queue, exclusive=True, auto_delete=True,
                      timeout=self.setup_timeout)
        except AMQPConnectionError:
            if _reply_code(link.reason) == 405:
                raise AMQPError("queue %r is already consumed by another service; give this node a unique name"
                                % self.queue) from None
            raise
        for key in self.binding_keys:
            link.call(channel.queue_bind, queue=self.queue, exchange=self.requests_exchange, routing_key=key,
                      timeout=self.setup_timeout)
        link.call(channel.basic_qos, prefetch_count=self.prefetch_count, timeout=self.setup_timeout)
        inbox = self._inbox

        def on_message(channel, method, properties, body):  # runs in the hub: hand over, never block
            inbox.put_nowait((link, channel, method, properties, body))

        link.call(channel.basic_consume, queue=self.queue, on_message_callback=on_message,
                  timeout=self.setup_timeout)

    # -- requests -----------------------------------------------------------------------------
    def _work(self):
        inbox = self._inbox
        while True:
            link, channel, method, properties, body = inbox.get()
            try:
                self._answer(channel, method, properties, body)
            except pika.exceptions.AMQPError as exc:
                logger.warning("AMQP %s: reply to %r lost, the broker connection closed (%s)",
                               self.queue, method.routing_key, exc)
            except Exception:  # keep the worker alive whatever one delivery does
                logger.exception("AMQP %s: failed to answer a request on %r", self.queue, method.routing_key)

    def answer(self, body, routing_key, properties=None):
        """Return the :class:`~flubber.kvstore.Reply` to request *body* that arrived with *routing_key*."""
        correlation_id = getattr(properties, "correlation_id", None)
        encoding = getattr(properties, "content_encoding", None)
        try:
            if encoding and not encoding.lower().endswith("json"):
                raise DecodingError("content encoding %r is not supported; send application/json" % encoding)
            request = _dripline.decode_request(body, target=routing_key)
        except DriplineError as exc:
            return Reply(exc.retcode, str(exc), correlation_id=correlation_id, sender_info=self.node.sender_info)
        request.correlation_id = correlation_id
        return self.node.handle(request)

    def _answer(self, channel, method, properties, body):
        reply = self.answer(body, method.routing_key, properties)
        if properties.reply_to:
            reply.correlation_id = None  # travels as the AMQP property
            data = _dripline.encode_json(reply.to_dict())
            channel.basic_publish(
                exchange=self.reply_exchange, routing_key=properties.reply_to, body=data,
                properties=pika.BasicProperties(correlation_id=properties.correlation_id,
                                                content_encoding=CONTENT_ENCODING, app_id="flubber"),
            )
        if channel.is_open:
            channel.basic_ack(method.delivery_tag)

    # -- alerts ----------------------------------------------------------------------------------
    def publish_alert(self, alert):
        """Publish *alert* to the alerts exchange (an alert sink of the node); drop it while disconnected."""
        link = self._link
        if link is None or not link.is_open:
            self.alerts_dropped += 1
            logger.debug("AMQP %s: not connected, alert %r dropped", self.queue, alert)
            return
        link.channel.basic_publish(
            exchange=self.alerts_exchange, routing_key=alert.routing_key, body=_dripline.encode_json(alert.to_dict()),
            properties=pika.BasicProperties(content_encoding=CONTENT_ENCODING, app_id="flubber"),
        )

    def __repr__(self):
        return "<AMQPService %s on %s%s>" % (self.queue, _safe_url(self.url), " ready" if self.ready.is_set() else "")


class AMQPKVClient(KVClient):
    """Send dripline requests through RabbitMQ (to flubber or dripline services).

    :param url: the broker, ``amqp://guest:guest@127.0.0.1:5672/%2F``.
    :param timeout: default seconds to wait for a reply.

    Connects on the first request. Replies arrive in an exclusive,
    broker-named queue (also bound to ``requests`` under its own name, as
    dripline services publish replies there). A request nobody is bound to
    is returned by the broker and answered with retcode 102 at once.
    """

    #: Seconds allowed to connect and set up.
    setup_timeout = 10.0

    def __init__(self, url, timeout=None):
        super().__init__(timeout)
        #: The broker URL.
        self.url = url
        url_parameters(url)
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
            link = _Link(self.url, "flubber client %d" % os.getpid())
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
                raise AMQPConnectionError("cannot set up with the broker at %s: %s" % (_safe_url(self.url), exc)) \
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
            reply = _dripline.decode_reply(body)
        except DriplineError as exc:
            result.set_exception(exc)
            return
        result.set(reply)

    def _on_return(self, _channel, method, properties, _body):  # in the hub
        result = self._pending.get(properties.correlation_id)
        if result is not None:
            result.set(Reply(AMQPRoutingKeyError.retcode,
                             "no service is bound to routing key %r (%s); check the target name"
                             % (method.routing_key, method.reply_text)))

    def send_request(self, request, timeout=None):
        """Publish *request* to the requests exchange; return the :class:`~flubber.kvstore.Reply`."""
        timeout = self.timeout if timeout is None else timeout
        link = self._ensure_link()
        correlation_id = self._prefix + str(next(self._ids))
        result = gevent.event.AsyncResult()
        self._pending[correlation_id] = result
        try:
            request.correlation_id = None
            link.channel.basic_publish(
                exchange=REQUESTS_EXCHANGE, routing_key=request.target,
                body=_dripline.encode_json(request.to_dict(with_target=False)),
                properties=pika.BasicProperties(reply_to=self._reply_queue, correlation_id=correlation_id,
                                                content_encoding=CONTENT_ENCODING, app_id="flubber"),
                mandatory=True,
            )
            try:
                return result.get(timeout=timeout)
            except gevent.Timeout:
                raise RequestTimeout("no reply for %r within %g s through %s"
                                     % (request.target, timeout, _safe_url(self.url))) from None
        except pika.exceptions.AMQPError as exc:
            raise AMQPConnectionError("lost the broker at %s: %s" % (_safe_url(self.url), exc)) from None
        finally:
            self._pending.pop(correlation_id, None)

    def close(self):
        """Close the broker connection."""
        link, self._link = self._link, None
        if link is not None:
            link.close()

    def __repr__(self):
        return "AMQPKVClient(%s)" % _safe_url(self.url)


def serve_amqp(node, url, **options):
    """Start an :class:`AMQPService` for *node* on the broker at *url*; return it."""
    return AMQPService(node, url, **options).start()
