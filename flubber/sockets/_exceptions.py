"""Exceptions of :mod:`flubber.sockets`, declared together.

The tree mirrors how callers catch them::

    SocketsError
    +-- SocketConfigurationError (also ValueError)   bad constructor argument
    +-- UnknownCodenameError     (also KeyError)     set_point on a foreign codename
    +-- BadPointError            (also ValueError)   set_point with a malformed point
    +-- PortInUseError           (also OSError)      the UDP port is taken
    +-- PushRefused                                  a push callback refuses the data
    +-- ClientError                                  raised by the clients
        +-- ReplyTimeoutError    (also TimeoutError) no reply in time
        +-- ServerUnreachableError (also ConnectionError)
        +-- UnknownCommandError                      reply was UNKNOWN_COMMMAND
        +-- OldDataError                             reply was OLD_DATA
        +-- PushError                                reply was ERROR#...
        +-- PushCallbackError                        reply was EXCEP#...

Because the configuration errors are also :class:`ValueError`, a script
written for PyExpLabSys that catches ``ValueError`` keeps working.
"""


class SocketsError(Exception):
    """Base class of every error raised by :mod:`flubber.sockets`."""


class SocketConfigurationError(SocketsError, ValueError):
    """A socket constructor got an argument it cannot use.

    Raised by the constructors of the pull and push sockets (and so before
    anything is bound or registered) when a codename is repeated, contains
    one of :data:`~flubber.sockets.BAD_CHARS` or is not ASCII, when the
    number of timeouts does not match the number of codenames, or when the
    push socket's ``action``, ``queue``, ``callback`` or ``return_format``
    do not fit together. The message names the offending value.
    """


class UnknownCodenameError(SocketsError, KeyError):
    """``set_point`` or ``set_point_now`` was called with a codename the
    socket was not constructed with.

    Raised by the pull sockets; the message lists the known codenames.
    """

    def __str__(self):
        # KeyError quotes its argument; the message reads better as is.
        return str(self.args[0]) if self.args else ""


class BadPointError(SocketsError, ValueError):
    """``set_point`` got a point that cannot be served.

    Raised by the pull sockets when the point is not a pair ``(x, y)``, when
    a value is not a number, string, bool or None, or when the x of a date
    socket's point is not a unix time.
    """


class PortInUseError(SocketsError, OSError):
    """The UDP port a socket should bind is already taken.

    Raised by the socket constructors and by ``start()`` after ``stop()``,
    either because another socket of this process holds the port (the
    message names it) or because the operating system refused the bind.
    Nothing is left registered when it is raised.
    """


class PushRefused(SocketsError):
    """Raise it from a push socket's callback to refuse the data.

    The client gets ``ERROR#<message>`` (not ``EXCEP#``: the request was
    wrong, the callback is fine) and the socket's ``last`` and ``updated``
    stay as they were. The lab node raises it for a key that is locked, not
    writable through the push socket, or given a value it does not take.
    """


class ClientError(SocketsError):
    """Base class of the errors raised by :class:`~flubber.sockets.PullClient`
    and :class:`~flubber.sockets.PushClient`."""


class ReplyTimeoutError(ClientError, TimeoutError):
    """No reply arrived within the client's ``timeout``.

    Raised by the clients' request methods. UDP may lose a datagram, so a
    caller that polls in a loop can simply try again.
    """


class ServerUnreachableError(ClientError, ConnectionError):
    """The operating system reported that nothing listens on the address.

    Raised by the clients when the server's host answers the request with
    an ICMP "port unreachable" (seen at once on loopback).
    """


class UnknownCommandError(ClientError):
    """The server answered ``UNKNOWN_COMMMAND``.

    Raised by :class:`~flubber.sockets.PullClient` when the command, or the
    codename in ``NAME#raw``/``NAME#json``, is not known to the server.
    """


class OldDataError(ClientError):
    """The server answered ``OLD_DATA``: the point is older than its timeout.

    Raised by :meth:`~flubber.sockets.PullClient.get` and
    :meth:`~flubber.sockets.PullClient.get_all` when asked to
    (``raise_on_old_data=True``). ``codenames`` lists the stale codenames.
    """

    def __init__(self, message, codenames=()):
        super().__init__(message)
        #: The codenames whose points were too old.
        self.codenames = list(codenames)


class PushError(ClientError):
    """The push socket answered ``ERROR#...``: it could not use the request.

    Raised by :class:`~flubber.sockets.PushClient`; the message is the
    server's explanation.
    """


class PushCallbackError(ClientError):
    """The push socket answered ``EXCEP#...``: its callback, or formatting
    the callback's return value, raised an exception.

    Raised by :class:`~flubber.sockets.PushClient`; the message is the
    server's explanation.
    """
