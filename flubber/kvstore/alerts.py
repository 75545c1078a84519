"""Alert sinks: where the broadcasts of keys go.

A sink is any callable taking one :class:`~flubber.kvstore.Alert`; add it to
a store (:meth:`KVStore.add_alert_sink <flubber.kvstore.KVStore.add_alert_sink>`)
or a node (:meth:`KVNode.add_alert_sink <flubber.kvstore.KVNode.add_alert_sink>`).
A sink must not block for long: it runs in the greenlet that set or read the
key. An exception in a sink is logged and the other sinks still run.

Ready-made sinks:

* :class:`ContinuousLoggerSink` -- numbers into a
  :class:`flubber.loggers.ContinuousLogger` (a database table);
* :class:`QueueSink` -- alerts into a gevent queue for a script to consume;
* :class:`LoggingSink` -- one log line per alert.

The AMQP transport adds its own sink that publishes to the ``alerts`` exchange.
"""
import logging

import gevent.queue

from flubber.kvstore.rules import as_number

logger = logging.getLogger(__name__)


class ContinuousLoggerSink:
    """Feed the numeric values of alerts to a ContinuousLogger.

    Each alert becomes ``continuous_logger.enqueue_point(codename, (unixtime, value))``
    with the alert's time and its ``value_cal`` (else ``value_raw``).

    :param continuous_logger: anything with ``enqueue_point(codename, (t, v))``,
        normally a started :class:`flubber.loggers.ContinuousLogger`.
    :param codenames: ``{key name: codename}``; only these keys are logged.
        None logs every key under its own name as codename.

    Values that are not numbers (the table stores doubles) are skipped with a
    debug message; an enqueue error (unknown codename, logger stopped) is
    logged once per codename and skipped.
    """

    def __init__(self, continuous_logger, codenames=None):
        #: The logger points go to.
        self.continuous_logger = continuous_logger
        #: ``{key name: codename}`` or None (every key, by name).
        self.codenames = dict(codenames) if codenames is not None else None
        self._failed = set()

    def __call__(self, alert):
        """Enqueue the alert's value as one point."""
        if self.codenames is None:
            codename = alert.name
        else:
            codename = self.codenames.get(alert.name)
            if codename is None:
                return
        value = as_number(alert.value)
        if value is None or codename is None:
            logger.debug("not logging %r: value is not a number", alert)
            return
        try:
            self.continuous_logger.enqueue_point(codename, (alert.unixtime, value))
        except Exception as exc:  # the logger's own errors (bad codename, stopped) must not break the key
            if codename not in self._failed:
                self._failed.add(codename)
                logger.error("cannot log %s to the ContinuousLogger (%s); further failures of %s are not logged",
                             codename, exc, codename)

    def __repr__(self):
        return "ContinuousLoggerSink(%r)" % (self.continuous_logger,)


class QueueSink:
    """Put alerts into a :class:`gevent.queue.Queue` for a script to read.

    :param maxsize: at most this many alerts wait; when full, the oldest is
        dropped (a sink never blocks the key).
    """

    def __init__(self, maxsize=1000):
        #: The queue of :class:`~flubber.kvstore.Alert` objects.
        self.queue = gevent.queue.Queue(maxsize)
        #: How many alerts were dropped because the queue was full.
        self.dropped = 0

    def __call__(self, alert):
        """Queue *alert*, dropping the oldest one when full."""
        while True:
            try:
                self.queue.put_nowait(alert)
                return
            except gevent.queue.Full:
                try:
                    self.queue.get_nowait()
                    self.dropped += 1
                except gevent.queue.Empty:
                    pass

    def get(self, timeout=None):
        """Return the next alert; raise :class:`gevent.queue.Empty` after *timeout* seconds."""
        return self.queue.get(timeout=timeout)

    def __len__(self):
        return self.queue.qsize()


class LoggingSink:
    """Log one line per alert (``routing_key: payload``) at *level*."""

    def __init__(self, level=logging.INFO, log=None):
        #: The logging level.
        self.level = level
        #: The :class:`logging.Logger` used.
        self.log = log or logger

    def __call__(self, alert):
        """Log *alert*."""
        self.log.log(self.level, "alert %s: %s", alert.routing_key, alert.payload)
