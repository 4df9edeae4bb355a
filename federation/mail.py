"""Outgoing transactional mail: an SMTP relay (``smtplib``), or in the demo a local mailbox.

A message is French text plus an HTML alternative, with ``Message-ID``, ``Date`` and
``Auto-Submitted: auto-generated`` (RFC 3834: no vacation replies); it is transactional, so it
carries no ``List-Unsubscribe``. :meth:`MailTransport.send` either hands the message to the relay
(it accepted every recipient) or raises :class:`MailNotSent`: the caller then tells the parent to
try again later and keeps nothing half done. The mailbox (``<state dir>/mailbox``, one ``.eml``
file per message) is what the demo's « Boîte de réception de la démo » reads.
"""

from __future__ import annotations

import datetime as dt
import smtplib
import ssl
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import format_datetime, make_msgid, parseaddr
from pathlib import Path
from typing import Protocol

from federation.settings import MailSettings

MAILBOX_SUFFIX = ".eml"
MAX_MAILBOX_SHOWN = 50

Clock = Callable[[], dt.datetime]


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class MailNotSent(Exception):
    """The relay could not be reached or refused the message: nothing was delivered."""


class MailRefused(MailNotSent):
    """The relay refused the recipient for good (SMTP 5xx, RFC 5321 §4.2.1): sending again will
    not help, unlike a relay that is down or a 4xx."""


def _is_permanent(refused: dict[str, tuple[int, bytes]]) -> bool:
    return bool(refused) and all(code >= 500 for code, _ in refused.values())


@dataclass(frozen=True)
class OutgoingMail:
    to: str
    subject: str
    text: str
    html: str


class MailTransport(Protocol):
    def send(self, mail: OutgoingMail) -> str:
        """Deliver ``mail``; its Message-ID, or :class:`MailNotSent`."""
        ...

    def probe(self) -> None:
        """Reach the relay without sending (the same work as a send, for an answer that must not
        differ); :class:`MailNotSent` when it is down."""
        ...


def is_single_address(value: str) -> bool:
    """One bare address (``nom@example.fr``): no display name, list, comment or line break."""
    return (
        bool(value)
        and value.isprintable()
        and parseaddr(value) == ("", value)
        and value.count("@") == 1
        and not any(c in value for c in ' ,;<>()"')
    )


def build_message(mail: OutgoingMail, sender: str, now: dt.datetime) -> EmailMessage:
    """The message to ``mail.to`` alone: a recipient that is not one bare address is a bug of
    the caller (``ValueError``), never a header to fill in."""
    if not is_single_address(mail.to):
        raise ValueError(f"not one bare address: {mail.to!r}")
    domain = parseaddr(sender)[1].rpartition("@")[2] or "educonnect.invalid"
    message = EmailMessage(policy=policy.SMTP)
    message["From"] = sender
    message["To"] = mail.to
    message["Subject"] = mail.subject
    message["Date"] = format_datetime(now)
    message["Message-ID"] = make_msgid(idstring=uuid.uuid4().hex[:12], domain=domain)
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(mail.text, charset="utf-8")
    message.add_alternative(mail.html, subtype="html", charset="utf-8")
    return message


class SmtpTransport:
    """One SMTP session per message: STARTTLS or implicit TLS (certificate and host name
    checked), AUTH when credentials are set."""

    def __init__(self, settings: MailSettings, clock: Clock = _utc_now) -> None:
        self.settings = settings
        self._clock = clock

    def _context(self) -> ssl.SSLContext:
        cafile = str(self.settings.ca_file) if self.settings.ca_file else None
        return ssl.create_default_context(cafile=cafile)

    def _connect(self) -> smtplib.SMTP:
        s = self.settings
        smtp: smtplib.SMTP
        if s.security == "tls":
            smtp = smtplib.SMTP_SSL(s.host, s.port, timeout=s.timeout_seconds, context=self._context())
        else:
            smtp = smtplib.SMTP(s.host, s.port, timeout=s.timeout_seconds)
        try:
            smtp.ehlo()
            if s.security == "starttls":
                smtp.starttls(context=self._context())
                smtp.ehlo()
            if s.username and s.password:
                smtp.login(s.username, s.password)
        except BaseException:
            smtp.close()
            raise
        return smtp

    def send(self, mail: OutgoingMail) -> str:
        message = build_message(mail, self.settings.sender, self._clock())
        try:
            smtp = self._connect()
            try:
                refused = smtp.send_message(message, to_addrs=[mail.to])  # the envelope: To alone
            finally:
                _quit(smtp)
        except smtplib.SMTPRecipientsRefused as exc:
            error = MailRefused if _is_permanent(exc.recipients) else MailNotSent
            raise error(f"recipients refused: {exc.recipients}") from exc
        except (OSError, smtplib.SMTPException) as exc:
            raise MailNotSent(f"{self.settings.host}:{self.settings.port}: {exc}") from exc
        if refused:
            error = MailRefused if _is_permanent(refused) else MailNotSent
            raise error(f"recipients refused: {refused}")
        return str(message["Message-ID"])

    def probe(self) -> None:
        """A send's SMTP session up to its recipient (MAIL FROM, RCPT TO the sender), then RSET
        instead of DATA: what is left unlike a send is the message's transfer and queueing."""
        sender = parseaddr(self.settings.sender)[1]
        try:
            smtp = self._connect()
            try:
                smtp.mail(sender)
                smtp.rcpt(sender)
                smtp.rset()
            finally:
                _quit(smtp)
        except (OSError, smtplib.SMTPException) as exc:
            raise MailNotSent(f"{self.settings.host}:{self.settings.port}: {exc}") from exc


def _quit(smtp: smtplib.SMTP) -> None:
    try:
        smtp.quit()
    except (OSError, smtplib.SMTPException):
        smtp.close()


class MailboxTransport:
    """The demo's mailbox: each message written whole as ``<time>-<id>.eml`` (rename: atomic)."""

    def __init__(self, directory: Path, sender: str, clock: Clock = _utc_now) -> None:
        self.directory, self.sender, self._clock = directory, sender, clock

    def send(self, mail: OutgoingMail) -> str:
        now = self._clock()
        message = build_message(mail, self.sender, now)
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            name = f"{now:%Y%m%dT%H%M%S%f}-{uuid.uuid4().hex[:8]}"
            partial = self.directory / f".{name}.tmp"
            partial.write_bytes(message.as_bytes())
            partial.replace(self.directory / f"{name}{MAILBOX_SUFFIX}")
        except OSError as exc:
            raise MailNotSent(f"mailbox {self.directory}: {exc}") from exc
        return str(message["Message-ID"])

    def probe(self) -> None:
        if self.directory.exists() and not self.directory.is_dir():
            raise MailNotSent(f"mailbox {self.directory}: not a directory")


def open_transport(settings: MailSettings) -> MailTransport:
    if settings.transport == "mailbox":
        if settings.mailbox_dir is None:
            raise ValueError("mailbox transport without a directory")
        return MailboxTransport(settings.mailbox_dir, settings.sender)
    return SmtpTransport(settings)


@dataclass(frozen=True)
class ReceivedMail:
    """A message of the demo's mailbox, as its page shows it."""

    name: str
    to: str
    subject: str
    date: str
    message_id: str
    text: str


def read_mailbox(directory: Path, limit: int = MAX_MAILBOX_SHOWN) -> list[ReceivedMail]:
    """The newest messages first."""
    if not directory.is_dir():
        return []
    files = sorted(directory.glob(f"*{MAILBOX_SUFFIX}"), reverse=True)[:limit]
    return [parse_mail(path.stem, path.read_bytes()) for path in files]


def parse_mail(name: str, raw: bytes) -> ReceivedMail:
    message = BytesParser(policy=policy.default).parsebytes(raw)
    body = message.get_body(preferencelist=("plain",))
    text = body.get_content() if body is not None else ""
    return ReceivedMail(
        name=name,
        to=str(message["To"] or ""),
        subject=str(message["Subject"] or ""),
        date=str(message["Date"] or ""),
        message_id=str(message["Message-ID"] or "").strip(),
        text=text,
    )
