"""Waiting for a condition in tests, instead of sleeping and hoping."""
import gevent


def wait_until(condition, timeout=5.0, what=None):
    """Return the first true value of ``condition()``, checked on every turn of the event loop.

    :raises AssertionError: naming *what* (or the condition) when it is
        still false after *timeout* seconds.
    """
    with gevent.Timeout(timeout, AssertionError("still not true after %s s: %s"
                                                % (timeout, what or getattr(condition, "__name__", condition)))):
        while True:
            value = condition()
            if value:
                return value
            gevent.sleep(0.001)
