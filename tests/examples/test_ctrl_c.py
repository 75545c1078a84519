"""Every example stops cleanly on Ctrl-C: it says what it did, prints no traceback and exits with 130."""
import os
import subprocess

import pytest

from flubber.io import connect_tcp
from tests.processes import EXAMPLES, assert_stopped_cleanly, interrupt, spawn, wait_for_line

pytestmark = pytest.mark.timeout(90)


def example(name, *args, cwd=None):
    """Start examples/NAME with ARGS; return the Popen."""
    return spawn(os.path.join(EXAMPLES, name), *args, cwd=cwd)


def test_log_measurement_drains_and_counts_the_points(tmp_path):
    process = example("log_measurement.py", "--duration", "600", "--rate", "50", cwd=str(tmp_path))
    wait_for_line(process, r"^logging to sqlite:///cinfdata\.sqlite3")
    wait_for_line(process, r"written +[1-9]")  # the logger wrote something before the Ctrl-C
    assert_stopped_cleanly(*interrupt(process),
                           r"^interrupted: \d+ points written \(\d+ of them drained after Ctrl-C\), 0 not written$")


def test_echo_server_says_how_many_connections_it_served():
    process = example("echo_server.py", "--port", "0")
    match, _ = wait_for_line(process, r"listening on 127\.0\.0\.1:(\d+)")
    client = connect_tcp(("127.0.0.1", int(match.group(1))), timeout=10)
    client.write(b"ping\n")
    assert client.read_until(b"\n") == b"ping\n"
    client.close()
    assert_stopped_cleanly(*interrupt(process), r"^echo server stopped by Ctrl-C after 1 connections$")


def test_chat_server_says_how_many_clients_joined():
    process = example("chat_server.py", "--port", "0")
    wait_for_line(process, r"listening on")
    assert_stopped_cleanly(*interrupt(process), r"^chat server stopped by Ctrl-C after 0 clients joined$")


def test_line_client_counts_the_lines_each_way():
    server = example("echo_server.py", "--port", "0")
    try:
        match, _ = wait_for_line(server, r"listening on 127\.0\.0\.1:(\d+)")
        process = spawn(os.path.join(EXAMPLES, "line_client.py"), "--port", match.group(1), stdin=subprocess.PIPE)
        process.stdin.write("hello\n")
        process.stdin.flush()
        wait_for_line(process, r"^hello$")
        assert_stopped_cleanly(*interrupt(process), r"^interrupted: 1 lines sent, 1 received$")
    finally:
        server.kill()
        server.communicate()


def test_sine_pull_socket_says_how_many_measurements_it_served():
    process = example("sine_pull_socket.py", "--port", "0", "--push-port", "0", "--interval", "0.01")
    wait_for_line(process, r"^push socket")
    assert_stopped_cleanly(*interrupt(process), r"^stopped by Ctrl-C after \d+ measurements$")


def test_kvstore_node_says_how_many_broadcasts_it_printed():
    process = example("kvstore_node.py", "--port", "0", "--interval", "0.05")
    wait_for_line(process, r"^sensor_value\.bath_temperature")  # one broadcast printed
    assert_stopped_cleanly(*interrupt(process), r"^stopped by Ctrl-C after \d+ broadcasts$")


def test_dump_demo_cuts_the_running_dumps_and_keeps_their_output(tmp_path):
    process = example("dump_demo.py", "--output-dir", str(tmp_path), "--silence", "120")
    wait_for_line(process, r"^dumping 3 devices into")
    status, out, err = interrupt(process)
    assert_stopped_cleanly(status, out, err, r"^interrupted: \d of 3 dumps finished, [1-3] cut short")
    assert "console       cut    ended by Ctrl-C" in out


def test_kvstore_plain_pika_gives_up_waiting_for_the_reply(rabbitmq_url):
    process = example("kvstore_plain_pika.py", "no_node_serves_this_key", "--url", rabbitmq_url,
                      "--timeout", "120")
    wait_for_line(process, r"waiting up to 120 s for the reply", stream="stderr")
    assert_stopped_cleanly(*interrupt(process),
                           r"^interrupted: no reply to the get request for 'no_node_serves_this_key' came")


def _literal_block_after(rst_path, heading):
    """Return the first ``::`` literal block after *heading* in the reST file, dedented."""
    import textwrap

    with open(rst_path) as handle:
        text = handle.read()
    after = text[text.index("\n%s\n" % heading):]
    lines = after[after.index("::\n") + 3:].splitlines()
    block = []
    for line in lines:
        if line and not line.startswith(" "):
            break
        block.append(line)
    return textwrap.dedent("\n".join(block)).strip() + "\n"


def test_io_docs_server_snippet_stops_cleanly_on_ctrl_c(tmp_path):
    snippet = _literal_block_after(os.path.join(os.path.dirname(EXAMPLES), "docs", "io.rst"), "A server")
    assert "serve(stop_signals=(signal.SIGINT, signal.SIGTERM))" in snippet
    script = tmp_path / "snippet.py"
    script.write_text(snippet)
    process = spawn(str(script))
    match, _ = wait_for_line(process, r"^listening on \('127\.0\.0\.1', (\d+)\)")
    client = connect_tcp(("127.0.0.1", int(match.group(1))), timeout=10)
    client.write(b"hi\n")
    assert client.read_until(b"\n") == b"hi\n"
    status, out, err = interrupt(process)
    client.close()
    assert status == 0 and out == "echo server stopped\n", (status, out, err)
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err
