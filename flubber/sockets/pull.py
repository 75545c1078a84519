"""Pull sockets: serve the current points of some codenames over UDP.

A lab script constructs one, starts it, and sets points as it measures;
any PyExpLabSys client on the network can then ask for them::

    from flubber.sockets import DateDataPullSocket

    socket = DateDataPullSocket("oven temperatures", ["oven_t1", "oven_t2"],
                                timeouts=[2.0, 5.0])
    socket.start()
    socket.set_point_now("oven_t1", 21.5)     # x is now (a unix time)
    ...
    socket.stop()                             # the port is free at once

:class:`DateDataPullSocket` serves values as a function of time (port
9000); :class:`DataPullSocket` serves x, y data (port 9010). The commands
they answer are listed in :mod:`flubber.sockets` and built by
:class:`~flubber.sockets.PullProtocol`; this module only moves
the datagrams. Requests are answered in the gevent hub, one non-blocking
``sendto`` each, so serving never needs a greenlet per request.

Unlike PyExpLabSys these sockets are not threads: they serve while the
process runs gevent. A script that keeps its own threads and
``time.sleep`` runs unchanged under ``gevent.monkey.patch_all()``.
"""
import logging

from flubber.sockets._pull_protocol import PullProtocol
from flubber.sockets._status import full_status
from flubber.sockets._transport import UDPSocketBase

LOG = logging.getLogger(__name__)


class CommonDataPullSocket(UDPSocketBase):
    """What the date and data pull sockets share; use one of those.

    :param str name: the socket's name, sent in reply to ``name``. Make it
        say where and what, e.g. ``'Oven temperatures, lab 312'``.
    :param codenames: (list of str) the measurements served, unique, none
        containing any of ``# , ; : &``. Replies list them in this order.
    :param int port: UDP port; 0 picks a free one (see :attr:`port`).
    :param default_x: x of the point every codename starts with.
    :param default_y: y of that point.
    :param timeouts: (float, list or None) seconds after which a point counts
        as old and is served as ``OLD_DATA``; one number for all
        codenames or one per codename (None: never old).
    :param bool check_activity: whether ``status`` reports the socket
        ``'INACTIVE'`` after ``activity_timeout`` seconds without a
        :meth:`poke`.
    :param float activity_timeout: see ``check_activity``.
    :param bool is_date: age points by their x (date socket) or by when
        they were set (data socket).
    :param bool poke_on_set: whether setting a point counts as activity.
    :param str host: address to bind, ``''`` (every IPv4 interface, as
        PyExpLabSys) by default; ``'127.0.0.1'`` or ``'::'`` for instance.
    :param callable clock: the unix time source for ``set_point_now``, old
        data and activity; by default one that reads :func:`time.time` at
        each call (so patching it works). A test passes its own to age
        points without waiting.

    :raises SocketConfigurationError: (a :class:`ValueError`) for a repeated or
        bad codename, a bad timeout or a timeouts list of the wrong length.
    :raises PortInUseError: when the port is taken. Either way nothing is left
        bound or registered.
    """

    def __init__(self, name, codenames, port, default_x, default_y, timeouts, check_activity,
                 activity_timeout, is_date, poke_on_set=True, host="", clock=None):
        #: The protocol state: points, timeouts, replies (see PullProtocol).
        self.protocol = PullProtocol(
            name, codenames, is_date, default_x=default_x, default_y=default_y,
            timeouts=timeouts, check_activity=check_activity,
            activity_timeout=activity_timeout, poke_on_set=poke_on_set,
            status_source=full_status, clock=clock,
            max_request_size=self.max_request_size)
        super().__init__(host, port)

    def data_entry(self):
        """This socket's entry of :data:`flubber.sockets.DATA` (a copy, as PyExpLabSys laid it out)."""
        protocol = self.protocol
        entry = {
            "type": "date" if protocol.is_date else "data", "name": protocol.name,
            "codenames": list(protocol.codenames), "data": dict(protocol.points),
            "timeouts": dict(protocol.timeouts),
            "activity": protocol.activity.as_dict(),
        }
        if not protocol.is_date:
            entry["timestamps"] = dict(protocol.timestamps)
        return entry

    @property
    def codenames(self):
        """The codenames served, in order."""
        return list(self.protocol.codenames)

    @property
    def poke_on_set(self):
        """Whether setting a point counts as activity."""
        return self.protocol.poke_on_set

    @poke_on_set.setter
    def poke_on_set(self, value):
        self.protocol.poke_on_set = bool(value)

    def _on_datagram(self, request, address):
        self._stats.requests += 1
        try:
            reply = self.protocol.reply(request)
        except Exception:  # noqa: BLE001 - a bug must cost one reply, not the server
            self._stats.errors += 1
            LOG.exception("%s failed to answer %r from %s", self, request[:200], address)
            reply = b"ERROR#internal error in the pull socket; see its log"
        self._send(reply, address)


class DataPullSocket(CommonDataPullSocket):
    """Serve x, y points (default port 9010); a point ages from when it was set.

    Arguments as :class:`CommonDataPullSocket`; defaults as PyExpLabSys'.
    """

    def __init__(self, name, codenames, port=9010, default_x=0.0, default_y=0.0, timeouts=None,
                 check_activity=True, activity_timeout=900, poke_on_set=True, *, host="", clock=None):
        super().__init__(name, codenames, port=port, default_x=default_x, default_y=default_y,
                         timeouts=timeouts, check_activity=check_activity,
                         activity_timeout=activity_timeout, is_date=False,
                         poke_on_set=poke_on_set, host=host, clock=clock)

    def set_point(self, codename, point, timestamp=None):
        """Make *point* ``(x, y)`` the current point of *codename*.

        *timestamp* is the unix time it was measured (default now); the
        point is ``OLD_DATA`` once it is older than the codename's timeout.

        :raises UnknownCodenameError: the socket does not serve *codename*.
        :raises BadPointError: *point* is not a pair of numbers, strings, bools
            or None.
        """
        self.protocol.set_point(codename, point, timestamp)


class DateDataPullSocket(CommonDataPullSocket):
    """Serve values as a function of time (default port 9000).

    A point is ``(unix time, value)`` and is ``OLD_DATA`` once its unix
    time is older than the codename's timeout. Arguments as
    :class:`CommonDataPullSocket`; defaults as PyExpLabSys'.
    """

    def __init__(self, name, codenames, port=9000, default_x=0.0, default_y=0.0, timeouts=None,
                 check_activity=True, activity_timeout=900, poke_on_set=True, *, host="", clock=None):
        super().__init__(name, codenames, port=port, default_x=default_x, default_y=default_y,
                         timeouts=timeouts, check_activity=check_activity,
                         activity_timeout=activity_timeout, is_date=True,
                         poke_on_set=poke_on_set, host=host, clock=clock)

    def set_point_now(self, codename, value):
        """Make ``(now, value)`` the current point of *codename*; return now.

        Now is read at the call (``time.time()``, so patching it works).
        """
        now = self.protocol.clock()
        self.protocol.set_point(codename, (now, value))
        return now

    def set_point(self, codename, point):
        """Make *point* ``(unix time, value)`` the current point of *codename*.

        :raises UnknownCodenameError: the socket does not serve *codename*.
        :raises BadPointError: x is not a unix time, or y not a number, string,
            bool or None.
        """
        self.protocol.set_point(codename, point)


class DateDataSocket(DateDataPullSocket):
    """Legacy name and signature: ``DateDataSocket(codenames, port=9000, ...)``.

    The first PyExpLabSys sockets took the codenames first and had no
    name; scripts such as ``DateDataSocket(['s1m1', 's1m2'],
    timeouts=[1.0, 0.7])`` keep working. The old defaults (x 0, y 47) are
    kept; *name* defaults to the class name.
    """

    def __init__(self, codenames, port=9000, default_x=0, default_y=47, timeouts=None, *,
                 name="DateDataSocket", check_activity=True, activity_timeout=900,
                 poke_on_set=True, host="", clock=None):
        super().__init__(name, codenames, port=port, default_x=default_x, default_y=default_y,
                         timeouts=timeouts, check_activity=check_activity,
                         activity_timeout=activity_timeout, poke_on_set=poke_on_set, host=host,
                         clock=clock)


class DataSocket(DataPullSocket):
    """Legacy name and signature: ``DataSocket(codenames, port=9010, ...)``.

    As :class:`DateDataSocket`, for x, y data; the old defaults (x 47,
    y 47) are kept.
    """

    def __init__(self, codenames, port=9010, default_x=47, default_y=47, timeouts=None, *,
                 name="DataSocket", check_activity=True, activity_timeout=900,
                 poke_on_set=True, host="", clock=None):
        super().__init__(name, codenames, port=port, default_x=default_x, default_y=default_y,
                         timeouts=timeouts, check_activity=check_activity,
                         activity_timeout=activity_timeout, poke_on_set=poke_on_set, host=host,
                         clock=clock)
