"""The device API: a :class:`Device` opens a :class:`Session` for one command.

A session hands back the command's output as ``(channel, data)`` events on
the channels :data:`STDOUT`, :data:`STDERR` and :data:`END`. The devices
themselves live in :mod:`flubber.dump._local` (subprocesses) and
:mod:`flubber.dump._line` (TCP and serial consoles); all are gathered in
:mod:`flubber.dump.devices`.
"""

__all__ = ["STDOUT", "STDERR", "END", "Session", "Device"]

# The channels of a Session.read event; flubber.dump.devices documents them.
STDOUT = "stdout"
STDERR = "stderr"
END = "end"
# Internal: a reader greenlet hands its DeviceError to Session.read.
_ERROR = "error"


class Session:
    """One command running on a device: read its output, then close it.

    Sessions come from :meth:`Device.open`; they are context managers.
    """

    #: Exit status of the command when the device knows it (local
    #: subprocesses; negative: killed by that signal), else ``None``.
    exit_status = None

    #: True when :meth:`close` had to stop a command that was still running.
    killed = False

    def read(self, timeout):
        """Return the next ``(channel, data)`` event, or ``None`` after *timeout* seconds of silence.

        *channel* is :data:`STDOUT` or :data:`STDERR` with non-empty *data*,
        or :data:`END` (data ``b""``) once the output is complete; :data:`END`
        is then returned again on every call.

        :raises DeviceError: when the connection broke; output received
            before the break was returned by the earlier calls.
        """
        raise NotImplementedError

    def close(self, wait=0):
        """Stop the command and release the device; idempotent.

        :param wait: seconds to let a command that closed its output exit on
            its own before it is stopped.
        """
        raise NotImplementedError

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()


class Device:
    """Base class of the devices; :meth:`open` is the one method a device needs."""

    #: Name of the device kind in the ``[device]`` section of an INI file.
    kind = None

    def open(self, command, timeout):
        """Start *command* on the device and return its :class:`Session`.

        :param timeout: seconds allowed for connecting and for the device to
            show its first prompt.
        :raises DeviceError: when the command cannot be started.
        """
        raise NotImplementedError

    @classmethod
    def option_names(cls):
        """The INI option names this kind accepts besides ``kind``."""
        return tuple(cls._OPTIONS)

    @classmethod
    def from_options(cls, options):
        """Build the device from INI-style string *options* (without ``kind``).

        :raises ValueError: naming the bad or unknown option.
        """
        unknown = sorted(set(options) - set(cls._OPTIONS))
        if unknown:
            raise ValueError("unknown option%s %s for kind = %s; known options: %s" % (
                "s" if len(unknown) > 1 else "", ", ".join(unknown), cls.kind, ", ".join(cls._OPTIONS)))
        kwargs = {}
        for name, value in options.items():
            try:
                kwargs[name] = cls._OPTIONS[name](value)
            except ValueError as exc:
                raise ValueError("option %s: %s" % (name, exc)) from None
        return cls(**kwargs)

    _OPTIONS = {}
