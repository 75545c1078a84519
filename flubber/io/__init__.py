"""Cooperative streams, servers and clients on gevent.

Every name of the public API, re-exported explicitly::

    from flubber.io import TCPServer, TCPClient, read_until ...
"""
from flubber.io._busypoll import DEFAULT_WINDOW_US, BusyPoller, busy_poll
from flubber.io._exceptions import (
    ConcurrentReadError,
    IncompleteReadError,
    PipeError,
    PipeTimeoutError,
    SerialError,
    StreamBufferFullError,
    StreamClosedError,
    StreamError,
    StreamTimeoutError,
    TCPError,
    TCPTimeoutError,
    TLSError,
    TLSTimeoutError,
    TTYError,
)
from flubber.io._lines import UNIVERSAL_NEWLINE, LineSplitter, LineTooLong
from flubber.io._server import StreamConnection, StreamServer
from flubber.io._stream import BaseStream
from flubber.io.pipe import PipeClient, PipeConnection, PipeServer
from flubber.io.serial import SerialStream
from flubber.io.tcp import TCPClient, TCPConnection, TCPServer, connect_tcp, parse_tcp_address
from flubber.io.tty import StderrStream, StdinStream, StdoutStream, TTYStream

__all__ = [
    "BaseStream",
    "StreamServer",
    "StreamConnection",
    "StreamError",
    "StreamClosedError",
    "StreamBufferFullError",
    "IncompleteReadError",
    "ConcurrentReadError",
    "StreamTimeoutError",
    "LineSplitter",
    "LineTooLong",
    "UNIVERSAL_NEWLINE",
    "TCPClient",
    "TCPServer",
    "TCPConnection",
    "TCPError",
    "TCPTimeoutError",
    "TLSError",
    "TLSTimeoutError",
    "connect_tcp",
    "parse_tcp_address",
    "PipeClient",
    "PipeServer",
    "PipeConnection",
    "PipeError",
    "PipeTimeoutError",
    "TTYStream",
    "StdinStream",
    "StdoutStream",
    "StderrStream",
    "TTYError",
    "SerialStream",
    "SerialError",
    "busy_poll",
    "BusyPoller",
    "DEFAULT_WINDOW_US",
]
