"""A real SMTP server for the tests (aiosmtpd on 127.0.0.1): what it received, parsed.

``SmtpServer.start(security=...)``: plain, STARTTLS (required, with AUTH) or implicit TLS, on a
certificate made for 127.0.0.1 that the client trusts through ``ca_file``. ``stop()`` takes the
relay down (a port nobody listens on any more).
"""

from __future__ import annotations

import datetime as dt
import socket
import ssl
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from ipaddress import IPv4Address
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from federation.settings import MailSettings

USERNAME, PASSWORD = "educonnect", "relais-de-test"


@dataclass
class Received:
    envelope_to: list[str]
    message: EmailMessage

    @property
    def text(self) -> str:
        body = self.message.get_body(preferencelist=("plain",))
        return body.get_content() if body is not None else ""

    @property
    def html(self) -> str:
        body = self.message.get_body(preferencelist=("html",))
        return body.get_content() if body is not None else ""


@dataclass
class _Handler:
    received: list[Received] = field(default_factory=list)
    refusals: dict[str, str] = field(default_factory=dict)  # recipient → the reply to its RCPT
    recipients: list[str] = field(default_factory=list)  # every RCPT TO, delivered or not

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        self.recipients.append(address)
        refusal = self.refusals.get(address.lower())
        if refusal is not None:
            return refusal
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = BytesParser(policy=policy.default).parsebytes(envelope.original_content)
        self.received.append(Received(list(envelope.rcpt_tos), message))
        return "250 Message accepted"


def _authenticator(server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
    ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (
        USERNAME.encode(),
        PASSWORD.encode(),
    )
    return AuthResult(success=ok)


def write_certificate(directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(IPv4Address("127.0.0.1")), x509.DNSName("localhost")]
            ),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "smtp-cert.pem", directory / "smtp-key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_path, key_path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class SmtpServer:
    def __init__(self, controller: Controller, handler: _Handler, settings: MailSettings) -> None:
        self.controller, self.handler, self.settings = controller, handler, settings

    @classmethod
    def start(cls, directory: Path, security: str = "none") -> SmtpServer:
        handler = _Handler()
        kwargs: dict[str, Any] = {}
        ca_file = None
        if security != "none":
            cert, key = write_certificate(directory)
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(cert, key)
            ca_file = cert
            if security == "starttls":
                kwargs = {
                    "tls_context": context,
                    "require_starttls": True,
                    "authenticator": _authenticator,
                    "auth_require_tls": True,
                }
            else:
                # aiosmtpd sees no STARTTLS on an implicit TLS socket: AUTH is over TLS all the same.
                kwargs = {"ssl_context": context, "authenticator": _authenticator, "auth_require_tls": False}
        port = free_port()
        controller = Controller(handler, hostname="127.0.0.1", port=port, **kwargs)
        controller.start()
        with_auth = security != "none"
        settings = MailSettings(
            transport="smtp",
            host="127.0.0.1",
            port=port,
            security=security,
            username=USERNAME if with_auth else None,
            password=PASSWORD if with_auth else None,
            ca_file=ca_file,
            sender="ÉduConnect <ne-pas-repondre@educonnect.test>",
            timeout_seconds=5,
        )
        return cls(controller, handler, settings)

    @property
    def received(self) -> list[Received]:
        return self.handler.received

    def to(self, address: str) -> list[Received]:
        return [r for r in self.received if address in r.envelope_to]

    def refuse(self, address: str, reply: str = "550 5.1.1 Mailbox unavailable") -> None:
        """Answer ``reply`` to every RCPT TO of ``address`` (a dead mailbox; 4xx: for now)."""
        self.handler.refusals[address.lower()] = reply

    def stop(self) -> None:
        self.controller.stop()

    def mail_settings(self) -> dict[str, Any]:
        """The ``[mail]`` table of a service's settings that sends here."""
        s = self.settings
        table: dict[str, Any] = {
            "transport": "smtp",
            "host": s.host,
            "port": s.port,
            "security": s.security,
            "sender": s.sender,
            "timeout_seconds": s.timeout_seconds,
        }
        if s.username:
            table |= {"username": s.username, "password": s.password, "ca_file": str(s.ca_file)}
        return table
