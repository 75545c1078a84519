"""TLS on TCP: the right CA connects, a wrong CA or name is refused, a plain client is harmless."""
import logging

import gevent
import gevent.socket
import pytest

from flubber.io import StreamTimeoutError, TCPClient, TCPServer, TLSError, TLSTimeoutError, connect_tcp
from tests.tlscerts import client_context, server_context

pytestmark = pytest.mark.timeout(30)


def _echo(connection):
    for line in connection:
        connection.write(line)


@pytest.fixture
def tls_server(tls_certs):
    server = TCPServer(handler=_echo, ssl_context=server_context(tls_certs))
    server.handshake_timeout = 2.0
    server.bind(("127.0.0.1", 0))
    server.start()
    yield server
    server.close()


def test_a_client_trusting_the_ca_gets_an_encrypted_echo(tls_server, tls_certs):
    client = connect_tcp(tls_server.sockname, timeout=5, ssl_context=client_context(tls_certs),
                         server_hostname="localhost")
    with client:
        client.write(b"secret\n")
        assert client.read_until(b"\n") == b"secret\n"
        assert client.tls_version.startswith("TLS")
        assert dict(item[0] for item in client.peer_certificate()["subject"])["commonName"] == "localhost"


def test_the_server_name_defaults_to_the_host_connected_to(tls_server, tls_certs):
    client = TCPClient(ssl_context=client_context(tls_certs))
    with client.connect(tls_server.sockname, timeout=5):  # 127.0.0.1 is in the certificate
        client.write(b"x\n")
        assert client.read_until(b"\n") == b"x\n"


def test_a_client_trusting_another_ca_is_refused(tls_server, tls_certs):
    with pytest.raises(TLSError, match="certificate is refused"):
        connect_tcp(tls_server.sockname, timeout=5, ssl_context=client_context(tls_certs, "other_ca"),
                    server_hostname="localhost")


def test_a_wrong_server_name_is_refused(tls_server, tls_certs):
    with pytest.raises(TLSError, match="certificate is refused"):
        connect_tcp(tls_server.sockname, timeout=5, ssl_context=client_context(tls_certs),
                    server_hostname="not-the-lab-pc")


def test_a_plain_client_on_a_tls_port_is_closed_and_the_server_goes_on(tls_server, tls_certs, caplog):
    caplog.set_level(logging.INFO)
    plain = connect_tcp(tls_server.sockname, timeout=5)
    plain.write(b'{"msgop": 1, "target": "setpoint"}\n')
    plain.read_until_eof()  # perhaps a TLS alert, then the end: the server closed it
    assert plain.at_eof
    plain.close()
    silent = gevent.socket.create_connection(tls_server.sockname, timeout=5)  # says nothing: the handshake times out
    try:
        client = connect_tcp(tls_server.sockname, timeout=5, ssl_context=client_context(tls_certs),
                             server_hostname="localhost")
        with client:
            client.write(b"still here\n")
            assert client.read_until(b"\n") == b"still here\n"
        silent.settimeout(10)
        assert silent.recv(100) == b""  # closed by the handshake timeout
    finally:
        silent.close()
    refusals = [record for record in caplog.records if "refused" in record.getMessage()]
    assert len(refusals) == 2
    assert all(record.exc_info is None and record.levelno == logging.INFO for record in refusals)
    assert not [record for record in caplog.records if record.levelno >= logging.ERROR]


def test_a_tls_client_on_a_plain_port_gets_a_tls_error(tls_certs):
    server = TCPServer(handler=_echo)
    server.bind(("127.0.0.1", 0))
    server.start()
    try:
        with gevent.Timeout(10):
            with pytest.raises(TLSError):
                connect_tcp(server.sockname, timeout=2, ssl_context=client_context(tls_certs),
                            server_hostname="localhost")
    finally:
        server.close()


def _silent(connection):
    while connection.read_bytes(4096):  # takes the ClientHello, never answers
        pass


def test_a_handshake_that_does_not_finish_in_time_is_a_timeout_error(tls_certs):
    server = TCPServer(handler=_silent)
    server.bind(("127.0.0.1", 0))
    server.start()
    try:
        with pytest.raises(TLSTimeoutError) as info:
            connect_tcp(server.sockname, timeout=0.3, ssl_context=client_context(tls_certs),
                        server_hostname="localhost")
        assert isinstance(info.value, TLSError)
        assert isinstance(info.value, StreamTimeoutError)
        assert isinstance(info.value, TimeoutError)
    finally:
        server.close()


def test_a_tls_stream_refuses_a_half_close(tls_server, tls_certs):
    client = connect_tcp(tls_server.sockname, timeout=5, ssl_context=client_context(tls_certs))
    with client:
        with pytest.raises(TLSError, match="half closed"):
            client.shutdown_write()
