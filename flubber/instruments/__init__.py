"""Instruments a lab node reads: line-protocol instruments, their sharing, simulators.

- :class:`LineInstrument` talks to an instrument that speaks lines (SCPI or a
  vendor's ASCII) at an address: ``tcp://HOST:PORT``,
  ``serial:///dev/ttyUSB0?baudrate=9600``, ``pipe:///path``, ``sim://scpi``.
  One greenlet owns the connection; any number of greenlets query it.
- :class:`InstrumentShare` serves one instrument to many TCP clients (PyVISA
  included) in the instrument's own line protocol.
- :class:`ScpiSimulator` and :class:`ScpiServer`: a simulated SCPI
  instrument, for tests, the demo and labs without hardware.
- :mod:`flubber.instruments.simulated`: the simulated oven and gauge drivers
  of the demo node.

Every public name is exported here; the modules behind them are
:mod:`flubber.instruments.line`, :mod:`flubber.instruments.address` (the
address schemes), :mod:`flubber.instruments.share`,
:mod:`flubber.instruments.scpi` and :mod:`flubber.instruments.config` (the
node-file options of an instrument).

A node-file driver is any Python callable named as ``module:attribute`` (see
:mod:`flubber.node`); it can be handed the LineInstrument of an ``address``.
"""
from flubber.instruments._exceptions import (
    AddressError,
    InstrumentConnectionError,
    InstrumentError,
    InstrumentLockError,
    InstrumentReplyError,
    InstrumentStoppedError,
    InstrumentTimeoutError,
)
from flubber.instruments.address import Address, parse_address
from flubber.instruments.line import InstrumentStats, LineInstrument, parse_number
from flubber.instruments.scpi import ScpiServer, ScpiSimulator
from flubber.instruments.share import ClientStats, InstrumentShare

__all__ = [
    "LineInstrument",
    "InstrumentStats",
    "parse_number",
    "Address",
    "parse_address",
    "InstrumentShare",
    "ClientStats",
    "ScpiSimulator",
    "ScpiServer",
    "InstrumentError",
    "AddressError",
    "InstrumentTimeoutError",
    "InstrumentConnectionError",
    "InstrumentReplyError",
    "InstrumentLockError",
    "InstrumentStoppedError",
]
