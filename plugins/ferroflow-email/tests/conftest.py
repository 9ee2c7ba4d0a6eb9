"""Fixtures: the installed plugin, aiosmtpd servers on 127.0.0.1, a self-signed cert."""

from __future__ import annotations

import datetime
import email
import email.policy
import ipaddress
import shutil
import ssl
import subprocess
from pathlib import Path

import pytest

from ferroflow.testing.fixtures import (  # noqa: F401 - fixtures for this directory's tests
    clean_plugin_manager,
    free_port,
    require_installed,
    silent_server,
    warnings_log,
)

# The plugin must be installed (its entry point is part of what is tested).
require_installed("ferroflow-email", "ferroflow_email")

try:
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult, LoginPassword
except ImportError as exc:
    raise ImportError(f"the email plugin's tests need aiosmtpd ({exc}): "
                      f"`python -m pip install 'aiosmtpd>=1.4'`") from None

@pytest.fixture(autouse=True)
def _isolated(clean_plugin_manager):  # noqa: F811 - the fixture imported above
    yield


class Mailbox:
    """An aiosmtpd handler that keeps every message it receives; with AUTH, it accepts
    ``username`` / ``password`` and records each successful login."""

    username = "ferroflow"
    password = "s3cret-pw"

    def __init__(self) -> None:
        self.envelopes: list = []
        self.logins: list[str] = []

    async def handle_DATA(self, server, session, envelope):  # aiosmtpd's naming
        self.envelopes.append(envelope)
        return "250 Message accepted for delivery"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.startswith("nobody@"):
            return "550 5.1.1 No such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    def authenticate(self, server, session, envelope, mechanism, auth_data):
        ok = (isinstance(auth_data, LoginPassword)
              and auth_data.login == self.username.encode() and auth_data.password == self.password.encode())
        if ok:
            self.logins.append(auth_data.login.decode())
        return AuthResult(success=ok, handled=False)  # not handled: the server answers 535

    def messages(self) -> list:
        return [email.message_from_bytes(e.original_content, policy=email.policy.default)
                for e in self.envelopes]


@pytest.fixture
def smtp_server():
    """``smtp_server(**aiosmtpd_options) -> (mailbox, port)``: a started aiosmtpd Controller."""
    started: list = []

    def start(ssl_context: ssl.SSLContext | None = None, **options):
        mailbox = Mailbox()
        if options.pop("auth", False):
            options["authenticator"] = mailbox.authenticate
        port = free_port()
        controller = Controller(mailbox, hostname="127.0.0.1", port=port, ssl_context=ssl_context,
                                **options)
        controller.start()
        started.append(controller)
        return mailbox, port

    yield start
    for controller in started:
        controller.stop()


@pytest.fixture
def refused_port() -> int:
    """A port on 127.0.0.1 where nothing listens."""
    return free_port()


@pytest.fixture(scope="session")
def self_signed_cert(tmp_path_factory) -> tuple[Path, Path]:
    """``(cert.pem, key.pem)`` for 127.0.0.1, made now with ``cryptography`` or, without
    it, the ``openssl`` command; the test skips when neither is available."""
    directory = tmp_path_factory.mktemp("tls")
    cert, key = directory / "cert.pem", directory / "key.pem"
    try:
        _make_cert_with_cryptography(cert, key)
    except ImportError:
        openssl = shutil.which("openssl")
        if openssl is None:
            pytest.skip("neither the cryptography package nor an openssl command is available "
                        "to make a self-signed certificate")
        subprocess.run(
            [openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
             "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "2",
             "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
            check=True, capture_output=True)
    return cert, key


def _make_cert_with_cryptography(cert_path: Path, key_path: Path) -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                       critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))


@pytest.fixture
def server_tls(self_signed_cert) -> ssl.SSLContext:
    """The server side's TLS context for the self-signed certificate."""
    cert, key = self_signed_cert
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return context
