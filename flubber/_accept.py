"""Accepting at the descriptor limit: pause with back-off and one warning, not a traceback per attempt.

gevent's accept loop prints the traceback of every failed ``accept()`` and
tries again. When the process is out of descriptors (EMFILE) that is one
traceback per attempt for as long as it lasts. :class:`AcceptPause` is
mixed into a :class:`gevent.baseserver.BaseServer` subclass (flubber.io's
acceptor, the web page's WSGI server): its ``do_read`` calls
:meth:`~AcceptPause._accept_failed` with the OSError, which pauses accepting
(:attr:`min_delay`, doubling up to :attr:`max_delay` while it lasts) and
warns once.
"""
import errno
import logging

__all__ = ["EXHAUSTED_ERRNOS", "AcceptPause"]

log = logging.getLogger(__name__)

#: errnos of accept() that mean "out of descriptors or memory": the process is
#: full, not broken. Accepting pauses (with back-off) instead of printing a
#: traceback per attempt.
EXHAUSTED_ERRNOS = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})


class AcceptPause:
    """Mixin of a gevent server: pause accepting while the process has no descriptor left."""

    #: What to do about it, added to the warning.
    exhausted_hint = "lower the connection cap or raise `ulimit -n`"

    _exhausted_delay = None
    _warned_exhausted = False

    def _accepted(self):
        """An accept worked: the next pause starts from :attr:`min_delay` again."""
        self._exhausted_delay = None

    def _accept_failed(self, exc, owner):
        """Pause accepting for *exc* (an OSError of ``accept()``) when it is exhaustion; else raise it.

        *owner* names the server in the warning.
        """
        if exc.errno not in EXHAUSTED_ERRNOS:
            raise exc
        delay = self.min_delay if self._exhausted_delay is None else min(self.max_delay, self._exhausted_delay * 2)
        self._exhausted_delay = delay
        if not self._warned_exhausted:
            self._warned_exhausted = True
            log.warning("%s: cannot accept connections: %s; pausing accept (up to %s s at a time) until "
                        "connections close; %s", owner, exc.strerror or exc, self.max_delay, self.exhausted_hint)
        else:
            log.debug("%s: accept paused again for %s s: %s", owner, delay, exc.strerror or exc)
        self.stop_accepting()
        if self._timer is not None:
            self._timer.close()
        self._timer = self.loop.timer(delay)
        self._timer.start(self._start_accepting_if_started)
