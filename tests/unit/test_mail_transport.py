"""federation/mail.py against a real SMTP server (aiosmtpd): plain, STARTTLS + AUTH, implicit
TLS; a relay that is down; the demo's mailbox; the ``[mail]`` settings."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import pytest

from federation.errors import ConfigurationError
from federation.mail import (
    MailboxTransport,
    MailNotSent,
    MailRefused,
    OutgoingMail,
    SmtpTransport,
    build_message,
    read_mailbox,
)
from federation.settings import build_settings
from tests.mail_server import SmtpServer, free_port

MAIL = OutgoingMail(
    to="claire.martin@example.fr",
    subject="Votre identifiant ÉduConnect",
    text="Bonjour,\nVotre identifiant : c.martin1\n",
    html="<p>Bonjour,</p><p>Votre identifiant : <strong>c.martin1</strong></p>",
)


@pytest.mark.parametrize("security", ["none", "starttls", "tls"])
def test_a_message_reaches_the_relay_in_text_and_html_with_a_message_id(tmp_path, security):
    server = SmtpServer.start(tmp_path, security)
    try:
        message_id = SmtpTransport(server.settings).send(MAIL)
    finally:
        server.stop()
    (received,) = server.received
    assert received.envelope_to == ["claire.martin@example.fr"]
    message = received.message
    assert message["Message-ID"].strip() == message_id and message_id.endswith("@educonnect.test>")
    assert message["Subject"] == "Votre identifiant ÉduConnect"
    assert message["Auto-Submitted"] == "auto-generated"
    assert message["List-Unsubscribe"] is None
    assert "c.martin1" in received.text and "<strong>c.martin1</strong>" in received.html


def test_starttls_relay_refuses_wrong_credentials(tmp_path):
    server = SmtpServer.start(tmp_path, "starttls")
    try:
        with pytest.raises(MailNotSent):
            SmtpTransport(replace(server.settings, password="faux")).send(MAIL)
    finally:
        server.stop()
    assert server.received == []


def test_tls_relay_with_an_untrusted_certificate_is_not_used(tmp_path):
    server = SmtpServer.start(tmp_path, "tls")
    try:
        with pytest.raises(MailNotSent):
            SmtpTransport(replace(server.settings, ca_file=None)).send(MAIL)
    finally:
        server.stop()
    assert server.received == []


def test_a_relay_that_is_down_raises_mail_not_sent(tmp_path):
    server = SmtpServer.start(tmp_path)
    server.stop()
    settings = replace(server.settings, port=free_port(), timeout_seconds=2)
    with pytest.raises(MailNotSent):
        SmtpTransport(settings).send(MAIL)
    with pytest.raises(MailNotSent):
        SmtpTransport(settings).probe()


def test_the_demo_mailbox_keeps_each_message_whole(tmp_path):
    transport = MailboxTransport(tmp_path / "mailbox", "ÉduConnect <ne-pas-repondre@educonnect.test>")
    first = transport.send(MAIL)
    second = transport.send(replace(MAIL, subject="Confirmez votre adresse électronique"))
    shown = read_mailbox(tmp_path / "mailbox")
    assert [m.message_id for m in shown] == [second, first]  # newest first
    assert shown[1].subject == "Votre identifiant ÉduConnect" and "c.martin1" in shown[1].text
    assert not list((tmp_path / "mailbox").glob(".*.tmp"))


def settings_with_mail(tmp_path, mode: str, mail: dict) -> object:
    data = {
        "mode": mode,
        "base_url": "https://idp.test",
        "secret_key": "x" * 40,
        "database_url": "sqlite://",
        "state_dir": str(tmp_path),
        "mail": mail,
    }
    return build_settings("idp", data, {}, root=tmp_path)


def test_mail_settings_demo_default_is_the_mailbox(tmp_path):
    settings = settings_with_mail(tmp_path, "demo", {})
    assert settings.mail.transport == "mailbox"  # type: ignore[attr-defined]
    assert settings.mail.mailbox_dir == tmp_path / "mailbox"  # type: ignore[attr-defined]


def test_mail_settings_production_default_is_the_local_relay(tmp_path):
    mail = settings_with_mail(tmp_path, "production", {}).mail  # type: ignore[attr-defined]
    assert (mail.transport, mail.host, mail.port, mail.security) == ("smtp", "localhost", 25, "none")
    remote = {"host": "smtp.ac-poitiers.fr", "security": "starttls"}
    starttls = settings_with_mail(tmp_path, "production", remote)
    assert starttls.mail.port == 587  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "mail",
    [
        {"transport": "mailbox"},  # the demo's mailbox in production
        {"host": "smtp.ac-poitiers.fr"},  # a remote relay in clear text
        {"host": "smtp.ac-poitiers.fr", "security": "tls", "username": "educonnect"},  # no password
        {"security": "ssl"},
    ],
)
def test_mail_settings_refuse_what_is_insecure_or_incomplete(tmp_path, mail):
    with pytest.raises(ConfigurationError):
        settings_with_mail(tmp_path, "production", mail)


@pytest.mark.parametrize(
    "to",
    [
        "x0 <victim@a.org>, v2@b.org",
        "victim@a.org, v2@b.org",
        "Nom <victim@a.org>",
        "victim@a.org\r\nBcc: v2@b.org",
    ],
)
def test_a_message_goes_to_one_bare_address_only(to):
    mail = OutgoingMail(to=to, subject="Objet", text="texte", html="<p>texte</p>")
    with pytest.raises(ValueError, match="not one bare address"):
        build_message(mail, "ÉduConnect <ne-pas-repondre@educonnect.test>", dt.datetime.now(dt.UTC))


@pytest.mark.parametrize(
    ("reply", "is_for_good"), [("550 5.1.1 Mailbox unavailable", True), ("450 4.2.1 Later", False)]
)
def test_a_recipient_refused_for_good_is_told_apart_from_one_refused_for_now(tmp_path, reply, is_for_good):
    server = SmtpServer.start(tmp_path)
    server.refuse(MAIL.to, reply)
    try:
        with pytest.raises(MailNotSent) as raised:
            SmtpTransport(server.settings).send(MAIL)
    finally:
        server.stop()
    assert isinstance(raised.value, MailRefused) is is_for_good
    assert server.received == []


def test_a_probe_goes_as_far_as_the_recipient_and_delivers_nothing(tmp_path):
    server = SmtpServer.start(tmp_path)
    try:
        SmtpTransport(server.settings).probe()
    finally:
        server.stop()
    assert server.handler.recipients == ["ne-pas-repondre@educonnect.test"] and server.received == []
