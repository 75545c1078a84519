"""Blocking calls (a database, a disk) in gevent's thread pool, their exceptions raised in the caller.

gevent prints the full traceback of every exception a pool thread raises,
before it hands the exception to the waiting greenlet. For the errors a
caller expects and reports itself (a database that is down, a full disk, an
unknown codename asked for by a web client) that is one traceback per
attempt on the node's standard error. :func:`call_in_thread` runs the
function so that the exception comes back as a value and is raised again
in the waiting greenlet, with its traceback, and nothing is printed.
"""
import gevent

__all__ = ["call_in_thread"]


def _capture(function, args):
    try:
        return True, function(*args)
    except Exception as exc:  # raised again by call_in_thread, in the greenlet that waits
        return False, exc


def call_in_thread(function, *args):
    """Run ``function(*args)`` in gevent's thread pool; return its result or raise its exception.

    Only the calling greenlet waits; the hub keeps running. An exception is
    raised here (its traceback kept), never printed by gevent.
    """
    ok, value = gevent.get_hub().threadpool.apply(_capture, (function, args))
    if ok:
        return value
    raise value
