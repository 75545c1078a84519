"""Shared fixtures: real local services, skipped loudly when absent."""
import socket

import pytest

MARIADB_ADDRESS = ("127.0.0.1", 3306)
RABBITMQ_ADDRESS = ("127.0.0.1", 5672)
RABBITMQ_URL = "amqp://guest:guest@127.0.0.1:5672/%2F"

_missing_services = {}


def _port_open(address):
    try:
        with socket.create_connection(address, timeout=1.0):
            return True
    except OSError:
        return False


def _require(name, address, hint):
    if name in _missing_services:
        pytest.skip(_missing_services[name])
    if not _port_open(address):
        reason = "SERVICE MISSING: %s is not listening on %s:%d (%s)" % (name, address[0], address[1], hint)
        _missing_services[name] = reason
        pytest.skip(reason)


@pytest.fixture(autouse=True)
def _no_child_left_running():
    """Kill the ``flubber`` children a test started and left running (it failed, or timed out), so
    that no node outlives its test and holds ports and CPU on a shared machine."""
    from tests.processes import CHILDREN, end_children

    since = len(CHILDREN)
    yield
    end_children(since)


@pytest.fixture(scope="session")
def mariadb_available():
    """Skip (loudly) unless MariaDB answers on 127.0.0.1:3306."""
    _require("MariaDB", MARIADB_ADDRESS, "start it with scripts/services.sh")
    return MARIADB_ADDRESS


@pytest.fixture(scope="session")
def rabbitmq_url():
    """The local RabbitMQ URL; skip (loudly) unless the broker answers."""
    _require("RabbitMQ", RABBITMQ_ADDRESS, "start it with scripts/services.sh")
    return RABBITMQ_URL


def pytest_terminal_summary(terminalreporter):
    """Repeat, at the very end of the run, every service that was missing."""
    for reason in _missing_services.values():
        terminalreporter.write_line("!!! " + reason, red=True, bold=True)


@pytest.fixture(scope="session")
def tls_certs(tmp_path_factory):
    """Test certificates made with openssl: ``ca``, ``cert``, ``key``, ``other_ca`` (paths)."""
    from tests.tlscerts import make_certificates

    return make_certificates(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def refused_tcp_port():
    """A loopback TCP port where a connect is refused, held for the test (see tests/ports.py)."""
    from tests.ports import refused_port

    with refused_port() as port:
        yield port


def skip_loudly(name, reason):
    """Skip the calling test because *name* is missing; the reason is repeated at the end of the run."""
    message = "%s MISSING: %s" % (name, reason)
    _missing_services[name] = message
    pytest.skip(message)
