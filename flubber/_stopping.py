"""Block a long-running service until it is stopped, by a call or by a signal."""
import logging
import signal

import gevent

logger = logging.getLogger(__name__)

#: The signals that stop ``flubber serve`` and friends: Ctrl-C and ``kill``.
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def wait_until_stopped(stopped, stop, stop_signals=STOP_SIGNALS, timeout=None):
    """Wait for the event *stopped*, calling *stop* on any of *stop_signals*; call *stop* on the way out.

    With *timeout* (seconds), *stop* is called when that much time has passed.

    The handlers are gevent's (they run *stop* in a greenlet, not inside the
    C signal handler) and are removed before returning. Outside the main
    thread no handler can be installed; then only *stop* or *stopped* ends the wait.
    """
    handlers = []
    for number in stop_signals:
        try:
            handlers.append(gevent.signal_handler(number, stop))
        except (ValueError, OSError) as error:  # not the main thread, or an unsupported signal
            logger.debug("cannot handle signal %s here (%s); stop() still works", number, error)
    try:
        stopped.wait(timeout)
    finally:
        for handler in handlers:
            handler.cancel()
        stop()
