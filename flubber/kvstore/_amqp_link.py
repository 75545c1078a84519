"""The AMQP link: one pika connection and channel, driven from greenlets.

pika calls back in gevent's hub, where nothing may block: a :class:`Link`
starts pika RPCs and waits for their callbacks through
:class:`gevent.event.AsyncResult` in the calling greenlet. The service
(:mod:`flubber.kvstore._amqp_service`) and the client
(:mod:`flubber.kvstore._amqp_client`) each own links; reconnecting is theirs.
"""
import logging

import gevent
import gevent.event
import pika
import pika.exceptions
from pika.adapters.gevent_connection import GeventConnection

from flubber.kvstore._exceptions import AMQPConnectionError, AMQPError, AMQPTimeoutError

logger = logging.getLogger(__name__)

#: Exchange requests are published to (topic).
REQUESTS_EXCHANGE = "requests"
#: Exchange alerts (broadcasts of keys) are published to (topic).
ALERTS_EXCHANGE = "alerts"

_NBIO = {}


def shared_io_services():
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


def safe_url(url):
    """Return *url* with its user and password masked, for messages and logs."""
    if "@" in url:
        scheme, _, rest = url.partition("://")
        return scheme + "://***@" + rest.partition("@")[2]
    return url


def _error_chain(error):
    """Yield *error* and the errors it wraps, outermost first (pika nests them; at most 10)."""
    for _ in range(10):  # the chain is short; never loop on a cycle
        if error is None:
            return
        yield error
        if getattr(error, "exceptions", None):
            error = error.exceptions[-1]
        elif getattr(error, "exception", None) is not None:
            error = error.exception
        elif error.args and isinstance(error.args[0], BaseException):
            error = error.args[0]
        else:
            return


def describe_open_error(error):
    """Return in words why pika could not open a connection.

    pika nests the reason (a workflow failure wrapping a connector error
    wrapping, say, :class:`ConnectionRefusedError`) in exceptions whose own
    text is empty; this follows the chain to the first one that says something.
    """
    last = None
    for last in _error_chain(error):
        text = str(last).strip()
        if text:
            return text
    return type(last).__name__ if last is not None else "refused"


#: AMQP reply codes of a broker that refuses the login (403 ACCESS_REFUSED) or the
#: virtual host (530 NOT_ALLOWED): retrying cannot help, the URL must change.
REFUSAL_CODES = frozenset({403, 530})


def access_refused(error):
    """Return True when *error* (from opening a connection) says the broker refused the user or vhost.

    A broker that is down or unreachable is not a refusal: waiting for it may help.
    """
    refusals = (pika.exceptions.ProbableAuthenticationError, pika.exceptions.AuthenticationError,
                pika.exceptions.ProbableAccessDeniedError)
    return any(isinstance(inner, refusals) or reply_code(inner) in REFUSAL_CODES for inner in _error_chain(error))


class Link:
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
        #: True when opening failed because the broker refused the user or the vhost.
        self.refused = False
        self._opened = False
        self._waiting = set()

    @property
    def is_open(self):
        return self.channel is not None and self.channel.is_open and not self.closed.is_set()

    def open(self, timeout):
        opened = gevent.event.AsyncResult()

        def on_open_error(_connection, error):
            self.refused = access_refused(error)
            if self.refused:
                message = ("the broker at %s refused this node: %s; check the user, password and virtual host "
                           "in the URL, and the user's permissions (rabbitmqctl list_permissions)"
                           % (safe_url(self.url), describe_open_error(error)))
            else:
                message = ("cannot connect to the broker at %s: %s; is RabbitMQ running there?"
                           % (safe_url(self.url), describe_open_error(error)))
            opened.set_exception(AMQPConnectionError(message))

        self.connection = GeventConnection(
            self.parameters, on_open_callback=opened.set, on_open_error_callback=on_open_error,
            on_close_callback=self._on_connection_closed, custom_ioloop=shared_io_services(),
        )
        try:
            self._wait(opened, timeout, "connect to the broker at %s" % safe_url(self.url))
        except AMQPConnectionError:
            self.abort()
            raise
        self._opened = True
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
            raise AMQPTimeoutError("the broker did not answer within %g s (%s)" % (timeout, what)) from None
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
            if reply_code(result) != 406:
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
        """Close the connection and wait (up to *timeout*) until pika confirms.

        A connection that never opened (the broker is down) is dropped at
        once: there is nothing for the broker to confirm.
        """
        self.abort()
        if self.connection is not None and self._opened:
            self.closed.wait(timeout)


def message_properties(message):
    """Return the :class:`pika.BasicProperties` of a dripline 4 :class:`~flubber.kvstore.AMQPMessage`."""
    return pika.BasicProperties(headers=message.headers, content_encoding=message.content_encoding,
                                correlation_id=message.correlation_id, message_id=message.message_id,
                                reply_to=message.reply_to or None)


def reply_code(reason):
    """Return the AMQP reply code of a close *reason* (405 locked, 406 precondition failed), or None."""
    return getattr(reason, "reply_code", None)
