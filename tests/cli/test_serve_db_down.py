"""``flubber serve`` with its database down: it serves at once, the logger waits in the background (its
state in the status line), and Ctrl-C stops it without waiting for the drain, saying where the points are."""
import socket
import textwrap

import pytest

from tests.processes import assert_stopped_cleanly, flubber, interrupt, serve, wait_for_line

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def refused_port():
    """A loopback TCP port that refuses connections (bound, never listening): a database server that is down."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


def _node_file(tmp_path, port, spool=None):
    path = tmp_path / "node.yaml"
    path.write_text(textwrap.dedent("""
        name: lab
        providers:
          - {name: kv, module: kv_store, endpoints: [{name: setpoint, module: kv_store_key, initial_value: 20}]}
        instruments:
          - {name: wave, driver: "flubber.instruments.simulated:sine", interval: 0.05}
        sockets: {pull: false}
        logger: {url: "mysql://root@127.0.0.1:%d/test", table: dateplots_lab%s}
    """ % (port, ", spool: %s" % spool if spool else "")))
    return path


def _serve_while_the_database_is_down(node_file, tmp_path):
    process, port, _ = serve(node_file, "--status-interval", "0.2", cwd=str(tmp_path), status=True)
    # the node answers requests while the logger has never reached its database
    got = flubber("get", "setpoint", "--host", "127.0.0.1:%d" % port)
    assert got.returncode == 0 and '"value_raw": 20' in got.stdout, got.stderr
    wait_for_line(process, r"logged 0 queued [1-9]\d* \(logger (disconnected|connecting)\)")
    return process


def test_without_a_spool_ctrl_c_says_the_points_are_lost_and_how_to_keep_them(tmp_path, refused_port):
    node_file = _node_file(tmp_path, refused_port)
    process = _serve_while_the_database_is_down(node_file, tmp_path)
    status, out, err = interrupt(process)
    assert_stopped_cleanly(status, out, err,
                           r"^node lab stopped by Ctrl-C: \d+ readings, 0 points logged, [1-9]\d* not logged "
                           r"\(lost: the logger has no spool; add `spool: lab\.spool` under logger: in "
                           r".*node\.yaml to keep them\)$")
    # the node gave the unreachable database the short offline wait, not the drain time of a connected one
    assert "stop() timed out after 0.5 s" in err


def test_with_a_spool_ctrl_c_says_the_points_wait_in_it(tmp_path, refused_port):
    node_file = _node_file(tmp_path, refused_port, spool="lab.spool")
    process = _serve_while_the_database_is_down(node_file, tmp_path)
    status, out, err = interrupt(process)
    assert_stopped_cleanly(status, out, err,
                           r"^node lab stopped by Ctrl-C: \d+ readings, 0 points logged, [1-9]\d* not logged "
                           r"\(kept in the spool lab\.spool; the next start sends them\)$")
    assert (tmp_path / "lab.spool").exists()
