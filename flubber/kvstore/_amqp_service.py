"""The dripline service on RabbitMQ: :class:`AMQPService` serves a node.

It speaks dripline 3 and dripline 4 on the same queue, per message: a
request whose AMQP headers carry ``message_type`` is dripline 4 (fields in
headers, payload in the body, see :mod:`flubber.kvstore._dripline4`) and is
answered in that form; any other is dripline 3 (one JSON body). Alerts go
out in the form :attr:`AMQPService.alert_version` names.

Layout: topic exchanges ``requests`` and ``alerts``. The service consumes
an exclusive queue named after the node, bound to ``requests`` with
``NAME.#`` for every endpoint name it serves (and the node name, for
``node.store.key``) and with ``broadcast.#``, as dripline-cpp binds every
service (``cmd broadcast ping`` reaches every node). A request is a JSON
dripline request message whose routing key is the target; the reply is
published to the request's ``reply_to`` queue (through the default
exchange, which reaches a queue by name whatever its bindings) with the
request's ``correlation_id``. Broadcasts of keys go to ``alerts`` with their
``sensor_value.NAME`` key.

pika's callbacks only hand deliveries to a queue; worker greenlets answer
them. Set-up steps run in the service greenlet on a
:class:`~flubber.kvstore._amqp_link.Link`. When the broker goes away the
service reconnects with exponential back-off and binds again.
"""
import logging
import os
import random

import gevent
import gevent.event
import gevent.queue
import pika
import pika.exceptions

from flubber._lifecycle import Service
from flubber.kvstore import _dripline, _dripline4
from flubber.kvstore._amqp_client import AMQPKVClient
from flubber.kvstore._amqp_link import (
    ALERTS_EXCHANGE, REQUESTS_EXCHANGE, Link, message_properties, reply_code, safe_url, url_parameters,
)
from flubber.kvstore._dripline import BROADCAST_KEY, CONTENT_ENCODING, Reply
from flubber.kvstore._exceptions import (
    AMQPConnectionError, AMQPError, AMQPRoutingKeyError, ConfigError, DecodingError, DriplineError, RequestTimeout,
)

logger = logging.getLogger(__name__)


class AMQPService(Service):
    """Serve a :class:`~flubber.kvstore.KVNode` on RabbitMQ (dripline wire format).

    :param node: the node that answers requests.
    :param url: the broker, ``amqp://guest:guest@127.0.0.1:5672/%2F``.
    :param queue: the queue name (default: the node name, like dripline).
    :param workers: greenlets answering requests concurrently.
    :param forward_remote: let the node's stores reach endpoints of other
        nodes through this broker (sets ``node.remote``).
    :param alert_version: the dripline version (3 or 4) of the alerts it
        publishes; requests are answered in the version they come in.

    :meth:`start` returns at once; :meth:`wait_ready` waits until requests
    are consumed. Broadcasts of the node's keys go to the ``alerts`` exchange.
    The lifecycle is flubber's one (:doc:`/lifecycle`); ``close`` is an
    alias of :meth:`stop`.
    """

    #: Exchange requests arrive on.
    requests_exchange = REQUESTS_EXCHANGE
    #: Exchange broadcasts go to.
    alerts_exchange = ALERTS_EXCHANGE
    #: Exchange replies are published to ("" is RabbitMQ's default exchange,
    #: which delivers to the queue named by ``reply_to``).
    reply_exchange = ""
    #: First word of the routing keys every node answers (``broadcast.#``, as dripline-cpp binds it).
    broadcast_key = BROADCAST_KEY
    #: Seconds :meth:`start` gives the broker to tell whether the node's name is free.
    name_check_timeout = 5.0
    #: Unanswered deliveries the broker may push at once.
    prefetch_count = 64
    #: Seconds before the first reconnect; doubles up to :attr:`reconnect_max_delay`.
    reconnect_delay = 0.5
    #: Longest wait between reconnect attempts (10 s: a node is back within about 10 s of
    #: the broker whatever the outage lasted; bench/bench_fleet.py measures a whole fleet).
    reconnect_max_delay = 10.0
    #: Each reconnect delay is multiplied by a random factor in ``1 +- reconnect_jitter``, so
    #: that a fleet of nodes does not knock on a restarted broker all in the same instant.
    reconnect_jitter = 0.2
    #: Seconds allowed for connecting and each set-up step.
    setup_timeout = 10.0
    #: Seconds :meth:`stop` waits for the broker to confirm the close, by default.
    stop_timeout = 5.0
    #: Longest request body (bytes) that is decoded, a dripline 4 request with all its chunks
    #: together; longer ones get retcode 302, as on TCP.
    max_request_bytes = 1 << 20
    #: Seconds a chunked dripline 4 request may wait for its missing chunks
    #: before it is answered 302 (dripline-cpp waits one second).
    chunk_timeout = 1.0

    def __init__(self, node, url, queue=None, workers=4, forward_remote=True, alert_version=3,
                 max_request_bytes=None):
        if alert_version not in (3, 4):
            raise ConfigError("alert_version must be 3 or 4 (the dripline version of the alerts), got %r"
                              % (alert_version,))
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
        if max_request_bytes is not None:
            self.max_request_bytes = max_request_bytes
        self._link = None
        #: The dripline version (3 or 4) of the alerts published.
        self.alert_version = alert_version
        self._sender_v4 = _dripline4.sender_info(node.name or "")
        self._chunks = _dripline4.ChunkAssembler(self.max_request_bytes)
        self._inbox = gevent.queue.Queue()
        self._greenlets = []
        self._first_attempt = gevent.event.AsyncResult()

    # -- life cycle ----------------------------------------------------------------------
    def start(self):
        """Make the first connection attempt, then serve in the background; return self.

        A broker that refuses the URL's user, password or virtual host is a
        mistake in the node file: it raises :class:`AMQPConnectionError` here
        and nothing is left running. So does a name that already answers on
        the broker (:meth:`check_name`, :class:`ConfigError`). A broker that
        is down or unreachable is waited for in the background (a warning per
        attempt, with back-off).
        """
        return super().start()

    def _start(self):
        self.check_name()
        self._first_attempt = gevent.event.AsyncResult()
        self.node.add_alert_sink(self.publish_alert)
        if self.forward_remote and self.node.remote is None:
            self.node.remote = AMQPKVClient(self.url)
        self._greenlets = [gevent.spawn(self._run)]
        self._greenlets += [gevent.spawn(self._work) for _ in range(self.workers)]
        self._first_attempt.wait(self.setup_timeout + 1.0)
        refusal = self._first_attempt.value if self._first_attempt.successful() else None
        if refusal is not None:
            self._stop(None)
            raise refusal

    def check_name(self):
        """Refuse to start when something already answers to this node's name on the broker.

        Sends ``cmd NAME.ping`` (mandatory: the broker returns it at once
        when no queue is bound to ``NAME.#``). An answer means another node
        (or a dripline service, or an endpoint of that name) serves the
        name: :class:`ConfigError` says who, with its host and pid when it
        is a flubber node. A broker that cannot be reached now is not
        checked here; the node's exclusive queue still keeps a second
        consumer of the same name out: refused at the first connection, the
        node does not start either (:class:`ConfigError`); refused on a
        reconnect, it logs the error at every attempt.
        """
        name = self.node.name
        if not name:
            return
        client = AMQPKVClient(self.url, timeout=self.name_check_timeout)
        client.setup_timeout = self.name_check_timeout
        try:
            reply = client.request(name + ".ping", _dripline.OP_CMD)
        except (AMQPError, RequestTimeout) as exc:
            logger.info("AMQP %s: name not checked (%s)", name, exc)
            return
        finally:
            client.close()
        if reply.retcode == AMQPRoutingKeyError.retcode:
            return
        info = reply.payload if isinstance(reply.payload, dict) else {}
        sender = reply.sender_info or {}
        who = ", ".join("%s %s" % item for item in (("host", info.get("host") or sender.get("hostname")),
                                                    ("pid", info.get("pid"))) if item[1])
        raise ConfigError("a node named %r already answers on the broker at %s%s; give this node a unique name "
                          "(the name: line of its node file), or stop the other one"
                          % (name, safe_url(self.url), " (%s)" % who if who else ""))

    def wait_ready(self, timeout=None):
        """Wait until requests are consumed; return True, or False after *timeout* seconds."""
        return self.ready.wait(timeout)

    def stop(self, timeout=None):
        """Stop consuming, close the connection and end the greenlets.

        Waits at most *timeout* seconds (default :attr:`stop_timeout`) for
        the broker and for each step.
        """
        return super().stop(timeout)

    def close(self, timeout=None):
        """The same as :meth:`stop`."""
        return self.stop(timeout)

    def _stop(self, timeout):
        timeout = self.stop_timeout if timeout is None else timeout
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

    # -- connection ------------------------------------------------------------------------
    @property
    def binding_keys(self):
        """The binding keys of the request queue: ``NAME.#`` per endpoint name, the node name and ``broadcast``."""
        names = list(self.node.endpoint_names)
        if self.node.name:
            names.append(self.node.name)
        if self.broadcast_key:
            names.append(self.broadcast_key)
        return [name + ".#" for name in sorted(set(names))]

    def _run(self):
        delay = self.reconnect_delay
        first = self._first_attempt
        while not self._stop_requested:
            link = Link(self.url, "flubber node %s" % self.queue)
            self._link = link
            try:
                link.open(self.setup_timeout)
                self._set_up(link)
            except (AMQPError, AMQPConnectionError, ConfigError, pika.exceptions.AMQPError) as exc:
                link.abort()
                if self._stop_requested:
                    break
                fatal = link.refused or isinstance(exc, ConfigError)  # refused login, or the name is taken
                if fatal and not first.ready():
                    first.set(exc if isinstance(exc, (AMQPConnectionError, ConfigError))
                              else AMQPConnectionError(str(exc)))
                    return
                first.set(None)
                log = logger.error if fatal else logger.warning
                wait = self._jittered(delay)
                log("AMQP %s: %s; retrying in %.1f s", self.queue, exc, wait)
                gevent.sleep(wait)
                delay = min(delay * 2, self.reconnect_max_delay)
                continue
            first.set(None)
            self.connections_made += 1
            delay = self.reconnect_delay
            self.ready.set()
            logger.info("AMQP %s: serving %d binding keys on %s", self.queue, len(self.binding_keys),
                        safe_url(self.url))
            link.closed.wait()
            self.ready.clear()
            if self._stop_requested:
                break
            logger.warning("AMQP %s: lost the broker (%s); reconnecting", self.queue, link.reason)
            link.abort()
            gevent.sleep(delay)

    def _jittered(self, delay):
        return delay * (1.0 + self.reconnect_jitter * (2.0 * random.random() - 1.0))

    def _set_up(self, link):
        channel = link.channel
        for exchange in (self.requests_exchange, self.alerts_exchange):
            link.ensure_exchange(exchange, timeout=self.setup_timeout)
        try:
            link.call(channel.queue_declare, queue=self.queue, exclusive=True, auto_delete=True,
                      timeout=self.setup_timeout)
        except AMQPConnectionError:
            if reply_code(link.reason) == 405:
                raise ConfigError("queue %r is already consumed by another service (a node of the same name); give "
                                  "this node a unique name" % self.queue) from None
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
            if len(body) > self.max_request_bytes:
                raise DecodingError("request of %d bytes is longer than the %d this node accepts; send smaller "
                                    "requests" % (len(body), self.max_request_bytes))
            if encoding and not encoding.lower().endswith("json"):
                raise DecodingError("content encoding %r is not supported; send application/json" % encoding)
            request = _dripline.decode_request(body, target=routing_key)
        except DriplineError as exc:
            return Reply(exc.retcode, str(exc), correlation_id=correlation_id, sender_info=self.node.sender_info)
        request.correlation_id = correlation_id
        return self.node.handle(request)

    def _answer(self, channel, method, properties, body):
        try:
            if _dripline4.is_v4(properties.headers):
                self._answer_v4(channel, method, properties, body)
            else:
                reply = self.answer(body, method.routing_key, properties)
                if properties.reply_to:
                    reply.correlation_id = None  # travels as the AMQP property
                    data = _dripline.encode_json(reply.to_dict())
                    channel.basic_publish(
                        exchange=self.reply_exchange, routing_key=properties.reply_to, body=data,
                        properties=pika.BasicProperties(correlation_id=properties.correlation_id,
                                                        content_encoding=CONTENT_ENCODING, app_id="flubber"),
                    )
        finally:  # whatever happened: an unacknowledged delivery holds one of the prefetch_count for good
            if channel.is_open:
                channel.basic_ack(method.delivery_tag)

    # -- dripline 4 ------------------------------------------------------------------------------
    def answer_v4(self, headers, body, routing_key, content_encoding=CONTENT_ENCODING):
        """Return the :class:`~flubber.kvstore.Reply` to a whole dripline 4 request.

        *headers* are its AMQP headers, *body* its payload (every chunk),
        *routing_key* the delivery's; the target is the routing key and
        ``.SPECIFIER`` when the ``specifier`` header has one.
        """
        try:
            request = _dripline4.decode_request(headers, body, routing_key, content_encoding)
        except DriplineError as exc:
            return Reply(exc.retcode, str(exc), sender_info=self.node.sender_info)
        return self.node.handle(request)

    def _answer_v4(self, channel, method, properties, body):
        try:
            whole = self._chunks.add(properties.message_id, properties, body)
        except DriplineError as exc:
            self._reply_v4(channel, properties, Reply(exc.retcode, str(exc), sender_info=self.node.sender_info))
            return
        if whole is None:
            gevent.spawn_later(self.chunk_timeout, self._expire_v4, channel, properties.message_id)
            return
        first, data = whole
        self._reply_v4(channel, first, self.answer_v4(first.headers, data, method.routing_key,
                                                       first.content_encoding))

    def _expire_v4(self, channel, message_id):
        first = self._chunks.expire(message_id)
        if first is not None and channel.is_open:
            self._reply_v4(channel, first, Reply(
                DecodingError.retcode, "Request message was not valid: the entire message was not available "
                "(chunks missing after %g s)" % self.chunk_timeout, sender_info=self.node.sender_info))

    def _reply_v4(self, channel, properties, reply):
        """Publish *reply* in dripline 4 form to the request's ``reply_to`` (none: no reply, as dripline)."""
        if not properties.reply_to:
            return
        for message in _dripline4.reply_messages(reply, properties.reply_to, properties.correlation_id,
                                                 sender=self._sender_v4):
            channel.basic_publish(exchange=self.reply_exchange, routing_key=message.routing_key,
                                  body=message.body, properties=message_properties(message))

    # -- alerts ----------------------------------------------------------------------------------
    def publish_alert(self, alert, version=None):
        """Publish *alert* to the alerts exchange (an alert sink of the node); drop it while disconnected.

        *version* (3 or 4, default :attr:`alert_version`) is the dripline
        form: 4 lays it out as dripline-cpp does (:func:`alert_messages`),
        what a dripline 4 data logger consumes.
        """
        link = self._link
        if link is None or not link.is_open:
            self.alerts_dropped += 1
            logger.debug("AMQP %s: not connected, alert %r dropped", self.queue, alert)
            return
        if (self.alert_version if version is None else version) == 4:
            sender = self._sender_v4 if alert.sender_info in (None, self.node.sender_info) else alert.sender_info
            for message in _dripline4.alert_messages(alert.routing_key, alert.payload, alert.unixtime, sender):
                link.channel.basic_publish(exchange=self.alerts_exchange, routing_key=message.routing_key,
                                           body=message.body, properties=message_properties(message))
            return
        link.channel.basic_publish(
            exchange=self.alerts_exchange, routing_key=alert.routing_key, body=_dripline.encode_json(alert.to_dict()),
            properties=pika.BasicProperties(content_encoding=CONTENT_ENCODING, app_id="flubber"),
        )

    def __repr__(self):
        return "<AMQPService %s on %s%s>" % (self.queue, safe_url(self.url), " ready" if self.ready.is_set() else "")


def serve_amqp(node, url, **options):
    """Start an :class:`AMQPService` for *node* on the broker at *url*; return it."""
    return AMQPService(node, url, **options).start()
