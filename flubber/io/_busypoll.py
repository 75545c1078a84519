"""Adaptive busy polling: a hub looks for events a few microseconds longer before it sleeps.

A server answering one client at a time sleeps between requests, and waking
a sleeping CPU (a virtual machine's halted one most of all) takes longer
than answering: on the benchmark machine a 100-byte echo at one connection
ran at 11,000 requests/s when the server slept between requests and at
25,000 when it polled for the next one instead. So before the hub's loop
blocks, it polls its event descriptor (non-blocking) for up to the window,
but only while sleeps have been short: a loop that slept between 5 µs and
the window is woken so soon after that polling would have saved the
wake-up; a longer sleep (an idle lab node: timers every tenth of a second)
turns polling off until short sleeps come back. A spin that finds nothing
costs at most one window, and a poll that returns at once (events ready,
idle watchers, callbacks queued) costs nothing but the check.

This is the adaptive halt polling of Linux's KVM and the spinning of Go's
scheduler, done in the hub: libev has no busy polling of its own, and
``SO_BUSY_POLL`` does nothing for loopback.
"""
import logging
import os
import select
import time

__all__ = ["busy_poll", "BusyPoller", "DEFAULT_WINDOW_US"]

log = logging.getLogger(__name__)

#: Default longest poll before the hub sleeps, in microseconds; the
#: environment variable ``FLUBBER_BUSY_POLL_US`` replaces it (``0``: off).
DEFAULT_WINDOW_US = 50

#: A sleep shorter than this was no sleep (the loop polled with a zero
#: timeout: idle watchers, events already there); it does not turn polling on.
_MIN_SLEEP = 5e-6


class BusyPoller:
    """The prepare and check watchers that poll before one hub's loop sleeps.

    Made by :func:`busy_poll`. Its counters tell what polling did:
    :attr:`spins` (polls that ran because sleeps had been short) and
    :attr:`caught` (of those, the ones that found an event, each a sleep and
    a wake-up saved).
    """

    __slots__ = ("_loop", "_window", "_poll", "_spinning", "_slept_at", "_prepare", "_check", "spins", "caught")

    def __init__(self, loop, window):
        #: Polls made before the loop would have slept.
        self.spins = 0
        #: Polls that found an event within the window.
        self.caught = 0
        self._loop = loop
        self._window = window
        poller = select.poll()
        poller.register(loop.fileno(), select.POLLIN)
        self._poll = poller.poll
        self._spinning = False
        self._slept_at = 0.0
        # after gevent's own prepare (which runs the queued callbacks), and
        # neither watcher keeps the loop alive
        self._prepare = loop.prepare(ref=False)
        self._prepare.priority = loop.MINPRI
        self._prepare.start(self._before_sleep)
        self._check = loop.check(ref=False)
        self._check.start(self._after_wake)

    def _before_sleep(self):
        if self._loop._callbacks:  # the loop will not sleep
            self._slept_at = 0.0
            return
        if self._spinning:
            self.spins += 1
            poll = self._poll
            clock = time.perf_counter
            end = clock() + self._window
            while clock() < end:
                if poll(0):
                    self.caught += 1
                    self._slept_at = 0.0
                    return
        self._slept_at = time.perf_counter()

    def _after_wake(self):
        if self._slept_at:
            slept = time.perf_counter() - self._slept_at
            self._spinning = _MIN_SLEEP < slept < self._window

    @property
    def window_us(self):
        """The longest poll, in microseconds."""
        return self._window * 1e6

    def stop(self):
        """Stop polling; the loop sleeps as libev decides."""
        self._prepare.stop()
        self._check.stop()


def _window_from_environment():
    text = os.environ.get("FLUBBER_BUSY_POLL_US")
    if text is None:
        return DEFAULT_WINDOW_US
    try:
        value = float(text)
    except ValueError:
        log.warning("FLUBBER_BUSY_POLL_US=%r is not a number of microseconds; using %d", text, DEFAULT_WINDOW_US)
        return DEFAULT_WINDOW_US
    return max(0.0, value)


def busy_poll(microseconds=None, hub=None):
    """Set how long *hub*'s loop polls for events before it sleeps; return the poller (None: off).

    :param microseconds: the longest poll (``0`` turns it off; ``None``: the
        environment variable ``FLUBBER_BUSY_POLL_US``, else
        :data:`DEFAULT_WINDOW_US`). Polling happens only while the loop's
        sleeps are shorter than this, so an idle process never spins.
    :param hub: the gevent hub (default: this thread's).

    flubber's streams call it once per hub with the default. Only gevent's
    libev loop on epoll (Linux) polls; elsewhere this does nothing.

    :raises ValueError: *microseconds* is negative.
    """
    from gevent import get_hub

    if microseconds is not None and microseconds < 0:
        raise ValueError("busy_poll() takes microseconds >= 0, got %r" % (microseconds,))
    hub = get_hub() if hub is None else hub
    old = getattr(hub, "_flubber_busy_poller", None)
    if old:  # None: not decided yet; False: decided, none running
        old.stop()
    window = _window_from_environment() if microseconds is None else microseconds
    loop = hub.loop
    if not window or getattr(loop, "backend", None) != "epoll" or not hasattr(loop, "_callbacks"):
        hub._flubber_busy_poller = False  # decided: no polling on this hub
        return None
    poller = hub._flubber_busy_poller = BusyPoller(loop, window * 1e-6)
    return poller
