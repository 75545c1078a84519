"""Access control on the node's TCP transport: TLS and write tokens, from the command line and the API."""
import os
import ssl
import subprocess
import sys

import pytest

from flubber.kvstore import AccessDenied, TCPKVClient, TransportError
from tests.security.conftest import ROOT, LineClient, get, node_config, set_

pytestmark = pytest.mark.timeout(120)

TOKEN = "s3cret-token-of-the-lab-0123456789"


def flubber(*args, env=None):
    environment = dict(os.environ, PYTHONPATH=ROOT)
    environment.pop("FLUBBER_TOKEN", None)
    environment.update(env or {})
    return subprocess.run([sys.executable, "-m", "flubber", *args], capture_output=True, text=True, timeout=60,
                          env=environment)


@pytest.fixture
def secure_node(start_node, tls_certs, tmp_path):
    tokens_file = tmp_path / "tokens"
    tokens_file.write_text("# write tokens of the lab node\n%s\n\nanother-token-for-the-robot\n" % TOKEN)
    tcp = {"host": "127.0.0.1", "port": 0, "tls": {"cert": tls_certs["cert"], "key": tls_certs["key"]},
           "tokens_file": str(tokens_file)}
    node = start_node(node_config(tcp=tcp))
    node.host = "127.0.0.1:%d" % node.tcp[1]
    return node


def test_get_needs_no_token_but_set_and_cmd_do(secure_node, tls_certs):
    host, ca = secure_node.host, tls_certs["ca"]
    got = flubber("get", "setpoint", "--host", host, "--ca", ca)
    assert got.returncode == 0 and '"value_raw": 25' in got.stdout, got.stderr
    refused = flubber("set", "setpoint", "30", "--host", host, "--ca", ca)
    assert refused.returncode == 1
    assert "307" in refused.stderr and "needs a write token" in refused.stderr and "--token" in refused.stderr
    refused = flubber("cmd", "setpoint", "lock", "--host", host, "--ca", ca)
    assert refused.returncode == 1 and "needs a write token" in refused.stderr
    assert flubber("set", "setpoint", "30", "--host", host, "--ca", ca, "--token", TOKEN).returncode == 0
    assert flubber("set", "setpoint", "31", "--host", host, "--ca", ca,
                   env={"FLUBBER_TOKEN": "another-token-for-the-robot"}).returncode == 0
    got = flubber("get", "setpoint", "--host", host, "--ca", ca, "--value")
    assert got.stdout.strip() == "31.0"


def test_a_wrong_token_is_refused(secure_node, tls_certs):
    refused = flubber("set", "setpoint", "30", "--host", secure_node.host, "--ca", tls_certs["ca"],
                      "--token", TOKEN[:-1])
    assert refused.returncode == 1
    assert "307" in refused.stderr and "not one this node accepts" in refused.stderr


def test_a_server_signed_by_another_ca_is_refused(secure_node, tls_certs):
    refused = flubber("get", "setpoint", "--host", secure_node.host, "--ca", tls_certs["other_ca"])
    assert refused.returncode == 3
    assert "certificate is refused" in refused.stderr and "--ca" in refused.stderr


def test_a_plain_client_on_the_tls_port_is_harmless(secure_node, tls_certs):
    plain = flubber("get", "setpoint", "--host", secure_node.host)
    assert plain.returncode == 3 and "--ca FILE" in plain.stderr, plain.stderr
    attacker = LineClient(secure_node.tcp)
    try:
        attacker.send(set_("setpoint", 99, token=TOKEN))  # plain text: never reaches the store
        try:
            answer = attacker.sock.recv(100)
        except ConnectionResetError:
            answer = b""
        assert b"retcode" not in answer  # closed (perhaps after a TLS alert), never answered
    finally:
        attacker.close()
    got = flubber("get", "setpoint", "--host", secure_node.host, "--ca", tls_certs["ca"], "--value")
    assert got.returncode == 0 and float(got.stdout) == 25
    secure_node.stop()
    secure_node.assert_no_traceback()


def test_the_python_client_sends_its_token_and_checks_the_ca(secure_node, tls_certs):
    with TCPKVClient(secure_node.tcp, ca=tls_certs["ca"], server_hostname="localhost") as client:
        with pytest.raises(AccessDenied, match="write token"):
            client.set("setpoint", 40)
        client.token = TOKEN
        client.set("setpoint", 40)
        assert client.get("setpoint") == {"value_raw": 40.0}
    with pytest.raises(TransportError, match="certificate is refused"):
        TCPKVClient(secure_node.tcp, ca=tls_certs["other_ca"]).get("setpoint")


def test_tokens_without_tls_work_on_a_raw_json_line(start_node):
    node = start_node(node_config(tcp={"host": "127.0.0.1", "port": 0, "tokens": [TOKEN]}))
    client = LineClient(node.tcp)
    try:
        reply = client.request(set_("setpoint", 30))
        assert reply["retcode"] == 307 and "needs a write token" in reply["return_msg"]
        assert client.request(set_("setpoint", 30, token="guess"))["retcode"] == 307
        assert client.request(set_("setpoint", 30, token=12345))["retcode"] == 307
        assert client.request(set_("setpoint", 30, token=TOKEN))["retcode"] == 0
        assert client.request(get("setpoint"))["payload"] == {"value_raw": 30.0}
    finally:
        client.close()


def test_a_node_file_with_a_missing_certificate_is_refused_at_check(tmp_path):
    import yaml

    path = tmp_path / "node.yaml"
    path.write_text(yaml.safe_dump(node_config(tcp={"port": 0, "tls": {"cert": "missing.pem", "key": "k.pem"}})))
    result = flubber("serve", str(path), "--check")
    assert result.returncode == 2 and "certificate" in result.stderr and "missing.pem" in result.stderr


def test_tls_contexts_are_strict_by_default(tls_certs):
    from flubber.kvstore.tcp import client_ssl_context

    context = client_ssl_context(tls_certs["ca"])
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname


def test_a_bad_tokens_file_line_is_named_without_showing_the_token(tmp_path):
    """The error names the file and line, never a piece of the secret."""
    from flubber.kvstore.tcp import read_tokens_file

    path = tmp_path / "tokens"
    path.write_text("# write tokens\ngood-token-1\nsecret part two\n")
    with pytest.raises(ValueError) as info:
        read_tokens_file(str(path))
    assert str(info.value) == "%s line 3: a token may not contain spaces (one token per line)" % path
    assert "secret" not in str(info.value)
