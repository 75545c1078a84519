"""One lifecycle for every flubber service: start, stop, running, serve_forever.

Every long-lived object of flubber that runs in the background (stream
servers, the UDP sockets, the logger, the KV node and its transports, a
dump run in the background, the lab node) derives from :class:`Service`
and so behaves the same way (see :doc:`/lifecycle`):

* :meth:`~Service.start` starts it in the background and returns the
  service itself (``server = TCPServer(...).start()``); calling it on a
  running service does nothing;
* :meth:`~Service.stop` stops it, waiting at most *timeout* seconds. It is
  idempotent, may be called from any greenlet, also while another greenlet
  is stopping the service (it then waits for that stop), and from a signal
  handler or hub callback (where nothing may block: the stop then runs in
  a new greenlet);
* :attr:`~Service.running` tells whether it runs;
* a stopped service can be started again;
* :meth:`~Service.serve_forever` starts it and blocks until :meth:`stop` or
  a stop signal (Ctrl-C, ``kill``), for a program whose main job it is;
* :meth:`~Service.wait` blocks until it is stopped; the service is also a
  context manager that starts on entry and stops on exit.

A subclass implements :meth:`~Service._start` and
:meth:`~Service._stop`; this module keeps the state, so no subclass
tracks "started" and "stopping" flags of its own.
"""
import enum
import logging

import gevent
from gevent import get_hub, getcurrent
from gevent.event import Event

from flubber._stopping import STOP_SIGNALS, wait_until_stopped

__all__ = ["Service", "ServiceState", "STOP_SIGNALS"]

log = logging.getLogger(__name__)


class ServiceState(enum.Enum):
    """Where a :class:`Service` is in its lifecycle.

    ``NEW`` -> ``STARTING`` -> ``RUNNING`` -> ``STOPPING`` -> ``STOPPED``,
    and from ``STOPPED`` back to ``STARTING`` on a restart. A start that
    fails goes back to ``STOPPED``.
    """

    NEW = "new"
    STARTING = "starting"
    RUNNING = "running"
    STOPPING = "stopping"
    STOPPED = "stopped"


class Service:
    """Base class of every flubber service: the one lifecycle.

    Subclasses implement :meth:`_start` (start in the background, raise
    on failure after cleaning up) and :meth:`_stop` (undo it, waiting at
    most *timeout* seconds); they may return a value from :meth:`_stop`,
    which :meth:`stop` returns. :meth:`_stop_idle` is what :meth:`stop`
    does on a service that is not running (nothing, by default).
    """

    #: Signals that stop :meth:`serve_forever`: Ctrl-C (SIGINT) and ``kill`` (SIGTERM).
    stop_signals = STOP_SIGNALS

    _service_state = ServiceState.NEW
    _service_stopper = None
    _service_event = None

    # -- state -------------------------------------------------------------------------

    @property
    def service_state(self):
        """The :class:`ServiceState` of this service now."""
        return self._service_state

    @property
    def running(self):
        """True from a successful :meth:`start` until :meth:`stop` begins."""
        return self._service_state is ServiceState.RUNNING

    @property
    def _stop_requested(self):
        """True once :meth:`stop` began (for the service's own loops to end)."""
        return self._service_state in (ServiceState.STOPPING, ServiceState.STOPPED)

    def _stopped_event(self):
        event = self._service_event
        if event is None:
            event = self._service_event = Event()
            if self._service_state is not ServiceState.RUNNING:
                event.set()
        return event

    # -- start ---------------------------------------------------------------------------

    def start(self):
        """Start in the background and return this service.

        Does nothing on a running service. A stopped service starts again.
        If starting fails, what was started is stopped again and the error
        is raised.
        """
        state = self._service_state
        if state in (ServiceState.RUNNING, ServiceState.STARTING):
            return self
        if state is ServiceState.STOPPING:
            self._stopped_event().wait()
        self._service_state = ServiceState.STARTING
        event = self._stopped_event()
        try:
            self._start()
        except BaseException:
            self._service_state = ServiceState.STOPPED
            event.set()
            raise
        if self._service_state is ServiceState.STARTING:  # not stopped while it started
            self._service_state = ServiceState.RUNNING
            event.clear()
        return self

    def _start(self):  # pragma: no cover - abstract
        """Start the service in the background (the subclass's part of :meth:`start`)."""
        raise NotImplementedError

    # -- stop -----------------------------------------------------------------------------

    def stop(self, timeout=None):
        """Stop the service, waiting at most *timeout* seconds for it to end.

        Idempotent: stopping a service that is not running does nothing (or
        what the service documents). Safe from any greenlet: while another
        greenlet stops the service this call waits (at most *timeout*) for
        that stop to end. Called in the hub, as a signal handler installed
        with :func:`signal.signal` or a hub callback is, it cannot block:
        the stop is then spawned in a new greenlet and this returns None.
        """
        current = getcurrent()
        if current is get_hub():
            gevent.spawn(self.stop, timeout)
            return None
        state = self._service_state
        if state is ServiceState.STOPPING:
            if self._service_stopper is not current:  # not re-entered from inside the stop itself
                self._stopped_event().wait(timeout)
            return None
        if state in (ServiceState.NEW, ServiceState.STOPPED):
            self._service_state = ServiceState.STOPPED
            return self._stop_idle()
        self._service_state = ServiceState.STOPPING
        self._service_stopper = current
        event = self._stopped_event()
        try:
            return self._stop(timeout)
        finally:
            self._service_stopper = None
            self._service_state = ServiceState.STOPPED
            event.set()

    def _stop(self, timeout):  # pragma: no cover - abstract
        """Stop what :meth:`_start` started (the subclass's part of :meth:`stop`)."""
        raise NotImplementedError

    def _stop_idle(self):
        """What :meth:`stop` does when the service is not running; returns what stop returns."""
        return None

    def _service_ended(self):
        """Called by a service whose work ended by itself (a dump that finished): now it is stopped."""
        if self._service_state is ServiceState.RUNNING:
            self._service_state = ServiceState.STOPPED
            self._stopped_event().set()

    # -- waiting ----------------------------------------------------------------------------

    def wait(self, timeout=None):
        """Block until the service is stopped (or *timeout* seconds); return True when stopped."""
        return self._stopped_event().wait(timeout)

    def serve_forever(self, stop_signals=None, duration=None):
        """Start (if needed) and block until :meth:`stop`, a stop signal or *duration* seconds.

        :param stop_signals: signals that stop the service (default
            :attr:`stop_signals`: SIGINT and SIGTERM; ``()`` for none). Their
            handlers are installed only in the main thread and removed again.
        :param duration: stop after this many seconds (None: run until stopped).

        The service is stopped when this returns.
        """
        self.start()
        signals = self.stop_signals if stop_signals is None else stop_signals
        wait_until_stopped(self._stopped_event(), self.stop, signals, timeout=duration)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc_info):
        self.stop()
