"""The exceptions of :mod:`flubber.dump`.

The tree mirrors how callers catch them::

    DumpError                    any dump failure (catch this one)
    +-- DumpConfigurationError   a bad INI file or bad settings (also a ValueError)
    +-- DeviceError              a device could not run a command or lost the connection
        +-- DeviceTimeoutError   the device took none of the command in time (also a TimeoutError)

:class:`~flubber.dump.TheDump` itself never lets a :class:`DeviceError` out:
it logs it, keeps the partial output and records it in the
:class:`~flubber.dump.DumpResult`, so the next dump still runs.
"""

__all__ = ["DumpError", "DumpConfigurationError", "DeviceError", "DeviceTimeoutError"]


class DumpError(Exception):
    """Base class of every error of :mod:`flubber.dump`."""


class DumpConfigurationError(DumpError, ValueError):
    """Raised by :class:`~flubber.dump.DumpConfiguration` and
    :func:`~flubber.dump.make_device` when a setting is wrong.

    The message names the file (when there is one), the section and the
    option, and says what a valid value looks like.
    """


class DeviceError(DumpError):
    """Raised by a device (:class:`~flubber.dump.LocalDevice`,
    :class:`~flubber.dump.TCPDevice`, :class:`~flubber.dump.SerialDevice`)
    when it cannot start the command (program missing, connection refused,
    port busy) or loses the connection while the output arrives.

    The original error (an :class:`OSError` or a
    :class:`~flubber.io.StreamError`) is chained as ``__cause__``.
    """


class DeviceTimeoutError(DeviceError, TimeoutError):
    """Raised by a line device (:class:`~flubber.dump.TCPDevice`,
    :class:`~flubber.dump.SerialDevice`) when the device took none of the
    command within the dump's ``timeout``: it is not reading its input.

    Also a builtin :class:`TimeoutError`, like every deadline that passes
    in flubber.
    """
