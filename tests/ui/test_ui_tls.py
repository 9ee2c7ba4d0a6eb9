"""Over TLS (``ferroflow server start --tls-cert --tls-key``) the session cookie is
Secure, as well as HttpOnly and SameSite."""

from __future__ import annotations

import datetime
import ipaddress
import re

import httpx
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from ferroflow.store.database import make_engine
from ferroflow.store.keys import create_key
from ferroflow.store.migrations import migrate
from tests.support.servers import Server


def _self_signed(folder):
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


def test_the_session_cookie_is_secure_over_tls(tmp_path):
    url = f"sqlite:///{tmp_path / 'tls.db'}"
    engine = make_engine(url)
    migrate(engine)
    with engine.begin() as conn:
        key = create_key(conn, "admin", "admin")[0]
    engine.dispose()
    cert, private = _self_signed(tmp_path)
    server = Server(url, tmp_path / "server.log", args=("--auth", "--tls-cert", str(cert), "--tls-key", str(private)),
                    scheme="https").start()
    try:
        with httpx.Client(timeout=60, base_url=server.url, verify=False) as http:
            form = http.get("/login")
            assert "Secure" in form.headers["set-cookie"]  # (the login form's own cookie too)
            token = re.search(r'name="csrf" value="([^"]+)"', form.text).group(1)
            answer = http.post("/login", data={"csrf": token, "key": key, "next": "/"})
            assert answer.status_code == 303
            cookie = next(v for k, v in answer.headers.multi_items()
                          if k == "set-cookie" and v.startswith("ferroflow_session="))
            flags = {part.strip().lower() for part in cookie.split(";")[1:]}
            assert {"secure", "httponly", "samesite=lax"} <= flags
            assert http.get("/").status_code == 200
    finally:
        server.kill()


def test_tls_options_go_together(tmp_path):
    import subprocess
    import sys

    from tests.support.servers import child_env

    done = subprocess.run([sys.executable, "-m", "ferroflow", "server", "start", "--database",
                           f"sqlite:///{tmp_path / 'x.db'}", "--tls-cert", str(tmp_path / "c.pem")],
                          env=child_env(), capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "go together" in done.stderr


def test_the_session_cookie_is_secure_behind_a_local_tls_proxy(ui):
    """A proxy on the same machine that ends TLS says so with X-Forwarded-Proto: the
    cookie is Secure then (and not for a plain request)."""
    for proto, secure in (("https", True), (None, False)):
        headers = {"X-Forwarded-Proto": proto} if proto else {}
        form = httpx.get(ui.url + "/login", headers=headers, timeout=60)
        token = re.search(r'name="csrf" value="([^"]+)"', form.text).group(1)
        answer = httpx.post(ui.url + "/login", data={"csrf": token, "key": ui.keys["read"], "next": "/"},
                            headers=headers, cookies={"ferroflow_login": form.cookies["ferroflow_login"]}, timeout=60)
        assert answer.status_code == 303, answer.text
        cookie = next(v for k, v in answer.headers.multi_items()
                      if k == "set-cookie" and v.startswith("ferroflow_session="))
        assert ("secure" in {p.strip().lower() for p in cookie.split(";")}) is secure, cookie
