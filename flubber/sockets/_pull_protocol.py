"""The pull sockets' protocol: points and the replies to ``codename#raw``, ``json_wn`` and the rest, no I/O.

:class:`PullProtocol` keeps the points of one date or data pull socket
and answers its requests byte for byte as PyExpLabSys does; the shared
wire facts are in :mod:`flubber.sockets._protocol`, the transport in
:mod:`flubber.sockets.pull`.
"""
import json

from flubber.sockets._exceptions import BadPointError, SocketConfigurationError, UnknownCodenameError
from flubber.sockets._protocol import (
    MAX_DATAGRAM,
    MAX_REQUEST_SIZE,
    OLD_DATA,
    PUSH_ERROR,
    UNKNOWN_COMMAND,
    _ProtocolBase,
    encode_reply,
    normalize_point,
    normalize_timeouts,
    validate_codenames,
)

__all__ = ["PullProtocol"]


class PullProtocol(_ProtocolBase):
    """Points and replies of one date or data pull socket, without I/O.

    :param str name: the socket's name (the reply to ``name``).
    :param list codenames: validated with :func:`validate_codenames`.
    :param bool is_date: True for a date socket, whose points age by their
        x (a unix time); False for a data socket, whose points age by
        the time they were set.
    :param default_x: x of the point every codename starts with.
    :param default_y: y of that point.
    :param timeouts: see :func:`normalize_timeouts`.
    :param bool check_activity: see :class:`Activity`.
    :param float activity_timeout: see :class:`Activity`.
    :param bool poke_on_set: whether :meth:`set_point` counts as activity.
    :param callable status_source: returns the dict for ``status``.
    :param callable clock: unix time source; by default :func:`wall_clock`,
        which reads :func:`time.time` at each call (so patching it works).
    :param int max_request_size: longer requests get the error reply.

    :raises SocketConfigurationError: for a bad codename, timeout or default.
    """

    def __init__(self, name, codenames, is_date, default_x=0.0, default_y=0.0, timeouts=None,
                 check_activity=True, activity_timeout=900, poke_on_set=True,
                 status_source=None, clock=None, max_request_size=MAX_REQUEST_SIZE):
        codenames = validate_codenames(codenames)
        timeouts = normalize_timeouts(timeouts, codenames)
        try:
            default = normalize_point((default_x, default_y), "(default)", is_date)
        except BadPointError as exc:
            raise SocketConfigurationError("default_x/default_y: %s" % exc) from None
        super().__init__(name, check_activity, activity_timeout, status_source, clock,
                         max_request_size)
        self.is_date = is_date
        self.kind = "date" if is_date else "data"
        #: Codenames in constructor order (the order of every reply).
        self.codenames = codenames
        #: codename -> timeout in seconds, or None for "never old".
        self.timeouts = dict(zip(codenames, timeouts))
        #: codename -> current point ``(x, y)``.
        self.points = dict.fromkeys(codenames, default)
        #: codename -> unix time the point was set (data sockets age by it).
        self.timestamps = dict.fromkeys(codenames, 0.0)
        self.poke_on_set = poke_on_set
        self._commands = {
            "raw": self._raw, "json": self._json, "raw_wn": self._raw_wn,
            "json_wn": self._json_wn, "codenames_raw": self._codenames_raw,
            "codenames_json": self._codenames_json, "name": self._name,
        }
        # Replies to known requests, valid from _cache_since until just before
        # _cache_until (the next moment a fresh point turns old) and until the
        # next set_point. Only known requests are kept, so it stays small.
        self._cache = {}
        self._cache_since = self._cache_until = 0.0
        # Without timeouts no reply depends on the time: cached ones never expire.
        self._timeless = all(timeout is None for timeout in timeouts)

    # -- points --------------------------------------------------------

    def set_point(self, codename, point, timestamp=None):
        """Make *point* ``(x, y)`` the current point of *codename*.

        *timestamp* (unix time, default now) is when it was measured; a data
        socket ages the point by it. Raises
        :class:`~flubber.sockets.UnknownCodenameError` for a codename the
        socket does not serve and :class:`~flubber.sockets.BadPointError`
        for a point it cannot serve. Points change only through here (the
        replies are cached until the next call).
        """
        if codename not in self.points:
            raise UnknownCodenameError(
                "codename %r is not served by socket %r; its codenames are %r"
                % (codename, self.name, self.codenames))
        self.points[codename] = normalize_point(point, codename, self.is_date)
        now = self.clock()
        self.timestamps[codename] = now if timestamp is None else timestamp
        self._cache.clear()
        if self.poke_on_set:
            self.activity.poke(now)

    def is_old(self, codename, now):
        """Return whether *codename*'s point is older than its timeout at *now*."""
        timeout = self.timeouts[codename]
        if timeout is None:
            return False
        born = self.points[codename][0] if self.is_date else self.timestamps[codename]
        return now - born > timeout

    def _fresh_until(self, now):
        """Return when the next point that is fresh at *now* turns old (inf: never)."""
        until = float("inf")
        for codename, timeout in self.timeouts.items():
            if timeout is not None and not self.is_old(codename, now):
                born = self.points[codename][0] if self.is_date else self.timestamps[codename]
                until = min(until, born + timeout)
        return until

    # -- replies -------------------------------------------------------

    def reply(self, request):
        """Return the reply bytes for the request bytes *request*.

        Never raises for any request: unknown, empty, non-ASCII and
        oversized requests get :data:`UNKNOWN_COMMAND`, the protocol's one
        error reply. Replies to known requests are cached until a point
        changes or turns old, so polling the same socket from many clients
        costs one dict look-up per request.
        """
        cached = self._cache.get(request)
        if cached is not None and self._timeless:
            return cached
        now = self.clock()
        if cached is not None and self._cache_since <= now < self._cache_until:
            return cached
        command = self._decode(request)
        cacheable = False
        if command is None:
            text = UNKNOWN_COMMAND
        elif "#" in command:
            text = self._single(command, now)
            cacheable = text != UNKNOWN_COMMAND
        elif command == "status":
            text = self.status_text()
        else:
            handler = self._commands.get(command)
            cacheable = handler is not None
            text = handler(now) if cacheable else UNKNOWN_COMMAND
        data = encode_reply(text)
        if len(data) > MAX_DATAGRAM:
            data = encode_reply(
                "%s#the reply is %d bytes, more than one UDP datagram holds (%d); ask for "
                "single codenames with NAME#raw" % (PUSH_ERROR, len(data), MAX_DATAGRAM))
        if cacheable:
            if not self._cache or not self._cache_since <= now < self._cache_until:
                self._cache.clear()
                self._cache_since, self._cache_until = now, self._fresh_until(now)
            self._cache[request] = data
        return data

    def _single(self, command, now):
        codename, _, form = command.partition("#")
        if codename not in self.points or "#" in form:
            return UNKNOWN_COMMAND
        if form == "raw":
            if self.is_old(codename, now):
                return OLD_DATA
            return "%s,%s" % self.points[codename]
        if form == "json":
            if self.is_old(codename, now):
                return json.dumps(OLD_DATA)
            return json.dumps(self.points[codename])
        return UNKNOWN_COMMAND

    def _current(self, now):
        """Yield ``(codename, point or None when old)`` in codename order."""
        points = self.points
        for codename in self.codenames:
            yield codename, (None if self.is_old(codename, now) else points[codename])

    def _raw(self, now):
        return ";".join(OLD_DATA if point is None else "%s,%s" % point
                        for _, point in self._current(now))

    def _json(self, now):
        return json.dumps([OLD_DATA if point is None else point
                           for _, point in self._current(now)])

    def _raw_wn(self, now):
        return ";".join("%s:%s" % (name, OLD_DATA) if point is None else "%s:%s,%s" % (name, *point)
                        for name, point in self._current(now))

    def _json_wn(self, now):
        return json.dumps({name: OLD_DATA if point is None else point
                           for name, point in self._current(now)})

    def _codenames_raw(self, now):
        return ",".join(self.codenames)

    def _codenames_json(self, now):
        return json.dumps(self.codenames)

    def _name(self, now):
        return self.name
