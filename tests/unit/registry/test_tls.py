"""verify-full against a TLS server, through the libpq that psycopg-binary really bundles.

A tiny server speaks just enough of the PostgreSQL protocol: it answers the SSLRequest, completes
a TLS handshake with a certificate from a throwaway CA, and refuses the login with the message
``tls-ok``. Seeing ``tls-ok`` means libpq accepted the server's certificate; a certificate or
root-file error means it did not.
"""

from __future__ import annotations

import shutil
import socket
import ssl
import struct
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import psycopg
import pytest
from psycopg import conninfo

from components.registry import connection
from components.registry.connection import RegistryConnectionError, build_dsn, connect

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="needs openssl")


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("tls")
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key",
             "-out", "ca.crt", "-days", "2", "-subj", "/CN=test-ca", cwd=d)  # fmt: skip
    _openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "srv.key", "-out", "srv.csr",
             "-subj", "/CN=localhost", cwd=d)  # fmt: skip
    (d / "ext").write_text("subjectAltName=DNS:localhost\n")
    _openssl("x509", "-req", "-in", "srv.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
             "-CAcreateserial", "-out", "srv.crt", "-days", "2", "-extfile", "ext",
             cwd=d)  # fmt: skip
    return d


def _serve(listener: socket.socket, tls: ssl.SSLContext) -> None:
    refusal = b"SFATAL\0C28000\0Mtls-ok\0\0"
    while True:
        try:
            raw, _ = listener.accept()
        except OSError:
            return
        with raw:
            try:
                raw.recv(8)  # SSLRequest
                raw.sendall(b"S")
                with tls.wrap_socket(raw, server_side=True) as conn:
                    conn.recv(4096)  # StartupMessage
                    conn.sendall(b"E" + struct.pack("!I", len(refusal) + 4) + refusal)
            except (OSError, ssl.SSLError):
                continue


@pytest.fixture(scope="module")
def server(certs: Path) -> Iterator[int]:
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(certs / "srv.crt", certs / "srv.key")
    listener = socket.create_server(("127.0.0.1", 0))
    thread = threading.Thread(target=_serve, args=(listener, tls), daemon=True)
    thread.start()
    yield int(listener.getsockname()[1])
    listener.close()


@pytest.fixture(autouse=True)
def no_ambient_trust(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No ~/.postgresql/root.crt, no SSL_CERT_* from the machine running the tests."""
    monkeypatch.setenv("HOME", str(tmp_path))
    for var in ("SSL_CERT_FILE", "SSL_CERT_DIR", "PGSSLROOTCERT", "PGSSLMODE"):
        monkeypatch.delenv(var, raising=False)


def _dsn(port: int, sslrootcert: str | None) -> str:
    dsn = build_dsn(
        host="localhost", port=port, database="r", user="u", password="pw",
        sslmode="verify-full", sslrootcert=sslrootcert,
    )  # fmt: skip
    return conninfo.make_conninfo(dsn, hostaddr="127.0.0.1")


def _error(dsn: str) -> str:
    with pytest.raises(RegistryConnectionError) as info:
        connect(dsn)
    return str(info.value)


def test_verify_full_with_the_configured_ca_file_verifies(server: int, certs: Path) -> None:
    assert "tls-ok" in _error(_dsn(server, str(certs / "ca.crt")))


def test_verify_full_with_the_system_store_uses_the_hosts_bundle(
    server: int, certs: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The "host's bundle" is our CA here, so a passing handshake proves which store was used.
    paths = SimpleNamespace(cafile=str(certs / "ca.crt"), capath=None)
    monkeypatch.setattr(ssl, "get_default_verify_paths", lambda: paths)
    assert "tls-ok" in _error(_dsn(server, "system"))


@pytest.mark.skipif(psycopg.pq.__impl__ != "binary", reason="the wheel's bundled OpenSSL")
def test_the_wheels_own_system_store_is_not_the_hosts(
    server: int, certs: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Why with_system_roots exists: libpq's plain sslrootcert=system misses the host's CAs.
    paths = SimpleNamespace(cafile=str(certs / "ca.crt"), capath=None)
    monkeypatch.setattr(ssl, "get_default_verify_paths", lambda: paths)
    with pytest.raises(psycopg.OperationalError, match="certificate verify failed"):
        psycopg.connect(_dsn(server, "system"), connect_timeout=5)


def test_verify_full_without_a_root_certificate_source_cannot_connect(server: int) -> None:
    # The DSNs before registry.sslRootCert / sslrootcert=system: libpq wants ~/.postgresql.
    assert "root certificate file" in _error(_dsn(server, None))


def test_an_explicit_ssl_cert_file_is_left_to_libpq(
    server: int, certs: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", str(certs / "ca.crt"))
    assert connection.with_system_roots(_dsn(server, "system")) == _dsn(server, "system")
    assert "tls-ok" in _error(_dsn(server, "system"))
