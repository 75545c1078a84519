"""The Dump: capture the output of device commands in files ("think dmesg").

Every name of the public API, re-exported explicitly::

    from flubber.dump import TheDump, TCPDevice
    path = TheDump("dmesg -k", TCPDevice("10.0.0.5", 23, prompt=r"# "), timeout=5)()

* :class:`TheDump` runs one command and writes its stdout to a file.
* :class:`DumpConfiguration` reads the dumps from an INI file;
  :class:`DumpConstants` holds its names and defaults.
* :class:`LocalDevice`, :class:`TCPDevice`, :class:`SerialDevice` run the
  commands; :func:`make_device` builds one from INI options.
* :func:`run_dumps` runs many dumps concurrently.
"""
from flubber.dump._exceptions import DeviceError, DeviceTimeoutError, DumpConfigurationError, DumpError
from flubber.dump.config import DumpConfiguration, DumpConstants
from flubber.dump.devices import (
    DEVICE_KINDS,
    END,
    STDERR,
    STDOUT,
    Device,
    LineDevice,
    LocalDevice,
    SerialDevice,
    Session,
    TCPDevice,
    make_device,
)
from flubber.dump.thedump import DumpResult, TheDump, run_dumps

__all__ = [
    "TheDump",
    "DumpResult",
    "run_dumps",
    "DumpConstants",
    "DumpConfiguration",
    "Device",
    "Session",
    "LocalDevice",
    "LineDevice",
    "TCPDevice",
    "SerialDevice",
    "DEVICE_KINDS",
    "make_device",
    "STDOUT",
    "STDERR",
    "END",
    "DumpError",
    "DumpConfigurationError",
    "DeviceError",
    "DeviceTimeoutError",
]
