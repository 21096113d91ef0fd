"""TLS on the node's port (`socket.ssl_certificate` / `socket.ssl_private_key`, as Nakama): the
API and the healthcheck answer over HTTPS with the configured certificate, and a certificate that
cannot be loaded stops the start with one line naming the files."""

from __future__ import annotations

import datetime
import json
import ssl
import subprocess
import time
import urllib.request
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.conftest import KIZUNA, ServerProcess, _env, free_port, run_kizuna


def self_signed(tmp_path: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .sign(key, hashes.SHA256()))
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


def test_the_node_serves_https_with_the_configured_certificate(tmp_path: Path,
                                                               db_address: str) -> None:
    cert, key = self_signed(tmp_path)
    port = free_port()
    flags = ["--migrate", "--database.address", db_address, "--logger.format", "text",
             "--socket.ssl_certificate", str(cert), "--socket.ssl_private_key", str(key)]
    # start_server polls plain HTTP: wait on `kizuna healthcheck`, which follows the TLS flags.
    log = tmp_path / "server.log"
    proc = subprocess.Popen([KIZUNA, "server", "--socket.port", str(port),
                             "--console.port", str(free_port()), *flags],
                            stdout=log.open("w"), stderr=subprocess.STDOUT, env=_env())
    server = ServerProcess(proc, port, log)
    try:
        deadline = time.monotonic() + 60
        while run_kizuna("healthcheck", str(port), "--socket.ssl_certificate", str(cert),
                         "--socket.ssl_private_key", str(key)).returncode != 0:
            assert proc.poll() is None, server.log()
            assert time.monotonic() < deadline, server.log()
            time.sleep(0.2)
        context = ssl.create_default_context(cafile=str(cert))
        context.check_hostname = False
        req = urllib.request.Request(
            f"https://127.0.0.1:{port}/v2/account/authenticate/device?create=true",
            data=json.dumps({"id": "tls-device-0001"}).encode(), method="POST",
            headers={"Authorization": "Basic ZGVmYXVsdGtleTo=",
                     "Content-Type": "application/json"})
        with urllib.request.urlopen(req, context=context, timeout=10) as r:
            assert r.status == 200 and json.loads(r.read())["token"]
        # Plain HTTP on the TLS port gets no API answer.
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthcheck", timeout=5) as r:
                plain = r.status
        except Exception:
            plain = None
        assert plain != 200
    finally:
        server.stop()


def test_a_certificate_that_cannot_be_loaded_stops_the_start(tmp_path: Path,
                                                             db_address: str) -> None:
    bad = tmp_path / "bad.pem"
    bad.write_text("not a certificate")
    r = run_kizuna("server", "--migrate", "--database.address", db_address,
                   "--socket.port", str(free_port()), "--logger.format", "text",
                   "--socket.ssl_certificate", str(bad), "--socket.ssl_private_key", str(bad),
                   timeout=60)
    assert r.returncode != 0
    out = r.stdout + r.stderr
    assert "cannot load socket.ssl_certificate" in out and str(bad) in out
    assert "Traceback" not in out
