"""Devices a dump runs its command on, each built on :mod:`flubber.io`.

A device opens a :class:`Session` for one command; the session hands back
the command's stdout and stderr as they arrive::

    device = LocalDevice(prefix="ssh lab-pc")
    with device.open("dmesg -k", timeout=5) as session:
        while True:
            event = session.read(timeout=5)     # None: 5 s of silence
            if event is None or event[0] == END:
                break
            channel, data = event               # STDOUT or STDERR, bytes

* :class:`LocalDevice` runs a local subprocess (optionally behind a prefix
  such as ``ssh host`` or ``adb shell``) and reads its stdout and stderr
  concurrently.
* :class:`TCPDevice` sends the command line over a TCP connection
  (telnet-like, no option negotiation) and reads until the prompt or silence.
* :class:`SerialDevice` does the same over a serial port (pyserial).

:func:`make_device` builds one from INI-style options (``kind = tcp`` ...).

The work is split by job: the device API in :mod:`flubber.dump._session`,
local subprocesses in :mod:`flubber.dump._local`, line devices in
:mod:`flubber.dump._line`, INI option parsers in :mod:`flubber.dump._options`;
this module gathers their public names and builds devices by kind.
"""
from flubber.dump import _session
from flubber.dump._line import LineDevice, LineSession, SerialDevice, TCPDevice
from flubber.dump._local import LocalDevice, LocalSession
from flubber.dump._options import parse_bool, parse_line_ending
from flubber.dump._session import Device, Session

__all__ = [
    "STDOUT", "STDERR", "END",
    "Session", "Device", "LocalDevice", "LineDevice", "TCPDevice", "SerialDevice",
    "DEVICE_KINDS", "make_device",
]

#: Channel of a :meth:`Session.read` event: bytes the command wrote to stdout.
STDOUT = _session.STDOUT
#: Channel of a :meth:`Session.read` event: bytes the command wrote to stderr.
STDERR = _session.STDERR
#: Channel of a :meth:`Session.read` event: the output is complete (data is ``b""``).
END = _session.END

#: The device classes by their ``kind`` in an INI ``[device]`` section.
DEVICE_KINDS = {cls.kind: cls for cls in (LocalDevice, TCPDevice, SerialDevice)}


def make_device(options=None):
    """Build a device from INI-style *options* (a mapping of strings).

    ``kind`` picks the class (``local`` when absent); the other options are
    its settings, e.g. ``{"kind": "tcp", "host": "10.0.0.5", "port": "23"}``.

    :raises ValueError: naming the unknown kind or the bad option.
    """
    options = dict(options or {})
    kind = str(options.pop("kind", "local")).strip().lower()
    try:
        cls = DEVICE_KINDS[kind]
    except KeyError:
        raise ValueError("kind must be one of %s, got %r" % (", ".join(DEVICE_KINDS), kind)) from None
    return cls.from_options(options)
