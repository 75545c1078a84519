"""Test certificates, made at test time with the ``openssl`` command (scripts/setup.sh installs it).

:func:`make_certificates` writes into a directory: ``ca.pem`` (a CA),
``server.pem``/``server.key`` (signed by it, for ``localhost`` and
``127.0.0.1``) and ``other-ca.pem`` (a CA that signed nothing here: a client
trusting only it must refuse the server).
"""
import os
import shutil
import ssl
import subprocess

import pytest

_CA_EXTENSIONS = ("-addext", "basicConstraints=critical,CA:TRUE",
                  "-addext", "keyUsage=critical,keyCertSign,cRLSign")
_SERVER_EXTENSIONS = """\
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectAltName=DNS:localhost,IP:127.0.0.1
subjectKeyIdentifier=hash
authorityKeyIdentifier=keyid,issuer
"""


def _openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


def _new_ca(directory, name, subject):
    _openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
             "-keyout", name + ".key", "-out", name + ".pem", "-days", "2", "-subj", subject,
             *_CA_EXTENSIONS, cwd=directory)


def make_certificates(directory):
    """Write the CA, the server certificate and key, and another CA into *directory*; return their paths.

    Returns a dict with ``ca``, ``cert``, ``key`` and ``other_ca``.
    """
    if shutil.which("openssl") is None:
        pytest.skip("TOOL MISSING: the openssl command makes the test certificates; run scripts/setup.sh "
                    "(apt-get install openssl)")
    directory = str(directory)
    _new_ca(directory, "ca", "/CN=flubber test CA")
    _new_ca(directory, "other-ca", "/CN=somebody else's CA")
    _openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
             "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=localhost", cwd=directory)
    with open(os.path.join(directory, "server.ext"), "w") as handle:
        handle.write(_SERVER_EXTENSIONS)
    _openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
             "-out", "server.pem", "-days", "2", "-extfile", "server.ext", cwd=directory)
    return {name: os.path.join(directory, file) for name, file in
            (("ca", "ca.pem"), ("cert", "server.pem"), ("key", "server.key"), ("other_ca", "other-ca.pem"))}


def server_context(certs):
    """An :class:`ssl.SSLContext` for the server of *certs*."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(certs["cert"], certs["key"])
    return context


def client_context(certs, ca="ca"):
    """An :class:`ssl.SSLContext` for a client trusting *certs[ca]*."""
    return ssl.create_default_context(cafile=certs[ca])
