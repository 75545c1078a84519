"""Devices for the dump tests: a TCP shell served by flubber.io and a console on a pty."""
import os
import pty
import socket
import struct

import gevent
import pytest

from flubber.io import StreamError, TCPServer, TTYStream

#: Canned answers of the fake shells, by command line.
ANSWERS = {
    b"dmesg": b"[    0.000000] Linux version 6.1\r\n[    0.000001] Command line: quiet\r\n",
    b"uptime": b" 10:00:00 up 3 days,  1 user\r\n",
    b"empty": b"",
}

PROMPT = b"lab> "


class ShellServer(TCPServer):
    """A telnet-like shell: banner and prompt, then per command line its echo, answer and prompt.

    Behaviours, chosen per server:

    * ``"prompt"``: as above.
    * ``"close"``: no banner or prompt; answers one command, then closes.
    * ``"silent"``: no banner or prompt; answers one command, then says nothing.
    * ``"drop"``: banner and prompt; on a command sends half the answer and closes.
    * ``"reset"``: no prompt; sends half the answer and resets the connection.
    """

    def __init__(self, behaviour="prompt"):
        super().__init__()
        self.behaviour = behaviour
        self.received = []

    def handle_connection(self, conn):
        prompted = self.behaviour in ("prompt", "drop")
        if prompted:
            conn.write(b"Welcome to the lab shell\r\n" + PROMPT)
        while True:
            line = conn.read_until(b"\n", max_bytes=4096)
            if not line:
                return
            command = line.strip()
            self.received.append(command)
            if not command:
                conn.write(PROMPT if prompted else b"")
                continue
            answer = ANSWERS.get(command)
            if answer is None:
                answer = b"sh: %s: not found\r\n" % command
            if self.behaviour == "prompt":
                conn.write(line.rstrip(b"\r\n") + b"\r\n" + answer + PROMPT)
            elif self.behaviour == "close":
                conn.write(answer)
                return
            elif self.behaviour == "silent":
                conn.write(answer)
                conn.read_until(b"\n")  # says nothing more until the client goes
                return
            elif self.behaviour == "drop":
                conn.write(line.rstrip(b"\r\n") + b"\r\n" + answer[:len(answer) // 2])
                conn.flush()
                return
            elif self.behaviour == "reset":
                conn.write(answer[:len(answer) // 2])
                conn.flush()
                gevent.sleep(0.05)
                _reset(conn)
                return


def _reset(conn):
    """Close *conn* with a TCP reset (SO_LINGER 0) instead of a FIN."""
    dup = socket.socket(fileno=os.dup(conn.fileno()))
    dup.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    conn.abort()
    dup.close()


@pytest.fixture
def shell_server():
    """A factory: ``shell_server(behaviour)`` -> a started :class:`ShellServer` on loopback."""
    servers = []

    def start(behaviour="prompt"):
        server = ShellServer(behaviour)
        server.bind(("127.0.0.1", 0))
        server.start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.close()


class PtyConsole:
    """A serial console on the master side of a pty: answers what the port sends.

    With *prompt*, an empty line gets a prompt, a command its echo, answer
    and prompt; without, a command gets only its answer.
    """

    def __init__(self, prompt=True):
        self.master, self.slave = pty.openpty()
        self.port = os.ttyname(self.slave)
        self.prompt = prompt
        self.received = []
        self._stream = TTYStream(self.master, readable=True)
        self._greenlet = gevent.spawn(self._serve)

    def _serve(self):
        try:
            while True:
                line = self._stream.read_until(b"\n", max_bytes=4096)
                if not line:
                    return
                command = line.strip()
                if not command:
                    if self.prompt:
                        self._stream.write(b"\r\n" + PROMPT)
                    continue
                self.received.append(command)
                answer = ANSWERS.get(command, b"sh: %s: not found\r\n" % command)
                if self.prompt:
                    self._stream.write(command + b"\r\n" + answer + PROMPT)
                else:
                    self._stream.write(answer)
        except StreamError:
            return

    def close(self):
        self._greenlet.kill()
        self._stream.abort()
        os.close(self.master)
        os.close(self.slave)


@pytest.fixture
def pty_console():
    """A factory: ``pty_console(prompt=True)`` -> a :class:`PtyConsole` (its ``port`` is the device)."""
    consoles = []

    def start(prompt=True):
        console = PtyConsole(prompt)
        consoles.append(console)
        return console

    yield start
    for console in consoles:
        console.close()
