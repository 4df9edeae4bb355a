"""The signed metadata aggregate (issue 16 item 3): what is taken, what is refused, what is kept.

Aggregates signed by Debian's xmlsec1 (tests/sp_aggregate.py), checked on both crypto backends,
read from a file and from an HTTPS server on loopback the test starts. A refused refresh keeps
the last good copy, says why in the log and in status.json.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
from pathlib import Path

import pytest
from saml2.attribute_converter import ac_factory

from federation import saml_backend
from federation.metadata_aggregate import (
    AggregateRefused,
    AggregateSettings,
    read_source,
    refresh,
    verify,
)
from federation.saml import ATTRIBUTE_MAP_DIR
from tests.sp_aggregate import (
    _SIGNATURE_TEMPLATE,
    https_server,
    operator_key,
    publish,
    sign,
    signed_aggregate,
    tls_files,
    unsigned_aggregate,
)

ENT = "https://ent.test/saml/metadata"
CONVERTERS = ac_factory(ATTRIBUTE_MAP_DIR)


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@pytest.fixture(params=["inprocess", "xmlsec1"])
def crypto(request):
    return saml_backend.tested_backend(request.param)


@pytest.fixture
def ent_metadata(deployment) -> str:
    return deployment.metadata("ent.xml").read_text()


@pytest.fixture
def signer(tmp_path_factory) -> object:
    return operator_key(tmp_path_factory.getbasetemp() / "operator")


def settings_for(tmp_path: Path, source: str, signer, ca_file: Path | None = None) -> AggregateSettings:
    return AggregateSettings(
        source=source,
        signer_certificate=signer.cert_file,
        copy_dir=tmp_path / "copy",
        ca_file=ca_file,
        timeout_seconds=5,
    )


def test_a_signed_aggregate_gives_its_entities(tmp_path, crypto, signer, ent_metadata):
    xml = signed_aggregate([ent_metadata], signer, tmp_path)
    verified = verify(xml.encode(), signer.cert_file, crypto, CONVERTERS, now())
    assert verified.entity_ids == (ENT,)
    assert verified.metadata.certs(ENT, "spsso", "signing")
    assert verified.valid_until > now() + dt.timedelta(days=6)


def refused(xml: str | bytes, signer, crypto) -> AggregateRefused:
    data = xml.encode() if isinstance(xml, str) else xml
    with pytest.raises(AggregateRefused) as caught:
        verify(data, signer.cert_file, crypto, CONVERTERS, now())
    return caught.value


def test_a_tampered_aggregate_is_refused(tmp_path, crypto, signer, ent_metadata):
    xml = signed_aggregate([ent_metadata], signer, tmp_path)
    tampered = xml.replace("https://ent.test/saml/acs", "https://attacker.test/saml/acs")
    assert tampered != xml
    assert refused(tampered, signer, crypto).reason == "signature"


def test_an_aggregate_signed_by_another_key_is_refused(tmp_path, crypto, signer, ent_metadata):
    other = operator_key(tmp_path / "other", "not-the-operator")
    xml = signed_aggregate([ent_metadata], other, tmp_path)
    assert refused(xml, signer, crypto).reason == "signature"


def test_an_unsigned_aggregate_is_refused(tmp_path, crypto, signer, ent_metadata):
    """pysaml2 alone accepts an unsigned aggregate even with a certificate configured."""
    xml = unsigned_aggregate([ent_metadata], now() + dt.timedelta(days=1), signature_template=False)
    assert refused(xml, signer, crypto).reason == "signature"


def test_a_signed_aggregate_wrapped_in_an_unsigned_one_is_refused(tmp_path, crypto, signer, ent_metadata):
    """Signature wrapping: the genuine signed aggregate inside a forged root with another SP."""
    genuine = signed_aggregate([ent_metadata], signer, tmp_path)
    forged_sp = ent_metadata.replace("https://ent.test", "https://forged.test")
    inner = re.sub(r"^\s*<\?xml[^>]*\?>", "", genuine).strip()
    wrapped = unsigned_aggregate([forged_sp], now() + dt.timedelta(days=1), signature_template=False)
    wrapped = wrapped.replace("</md:EntitiesDescriptor>\n", inner + "\n</md:EntitiesDescriptor>\n", 1)
    assert refused(wrapped, signer, crypto).reason == "signature"


def test_an_expired_aggregate_is_refused(tmp_path, crypto, signer, ent_metadata):
    xml = signed_aggregate([ent_metadata], signer, tmp_path, valid_for=-dt.timedelta(minutes=1))
    assert refused(xml, signer, crypto).reason == "expired"


def test_an_aggregate_without_valid_until_is_refused(tmp_path, crypto, signer, ent_metadata):
    xml = sign(unsigned_aggregate([ent_metadata], None), signer, tmp_path)
    assert refused(xml, signer, crypto).reason == "expired"


@pytest.mark.parametrize(
    "document",
    [
        b"not XML at all",
        b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e "e">]><x>&e;</x>',
        b'<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="x"/>',
    ],
)
def test_what_is_no_aggregate_is_refused(crypto, signer, document):
    assert refused(document, signer, crypto).reason == "unparsable"


def test_a_good_refresh_from_a_file_replaces_the_copy(tmp_path, crypto, signer, ent_metadata):
    source = tmp_path / "federation.xml"
    publish(source, signed_aggregate([ent_metadata], signer, tmp_path))
    settings = settings_for(tmp_path, str(source), signer)
    outcome = refresh(settings, crypto, CONVERTERS, now())
    assert outcome.is_good, outcome.message
    assert settings.copy_file.read_bytes() == source.read_bytes()
    assert json.loads(settings.status_file.read_text())["good"] is True


@pytest.mark.parametrize(
    "spoil",
    ["tampered", "wrong_signer", "expired", "unparsable", "unreachable", "rollback"],
)
def test_a_bad_refresh_keeps_the_last_good_copy_and_is_logged(
    tmp_path, crypto, signer, ent_metadata, spoil, caplog
):
    source = tmp_path / "federation.xml"
    good = signed_aggregate([ent_metadata], signer, tmp_path)
    publish(source, good)
    settings = settings_for(tmp_path, str(source), signer)
    assert refresh(settings, crypto, CONVERTERS, now()).is_good
    bad = {
        "tampered": lambda: good.replace("https://ent.test/saml/acs", "https://attacker.test/acs"),
        "wrong_signer": lambda: signed_aggregate([ent_metadata], operator_key(tmp_path / "x", "x"), tmp_path),
        "expired": lambda: signed_aggregate(
            [ent_metadata], signer, tmp_path, valid_for=-dt.timedelta(hours=1)
        ),
        "unparsable": lambda: good[: len(good) // 2],
        "unreachable": None,
        # genuinely signed and still valid, but older than the kept copy (validUntil earlier)
        "rollback": lambda: signed_aggregate(
            [ent_metadata], signer, tmp_path, valid_for=dt.timedelta(days=3)
        ),
    }[spoil]
    if bad is None:
        source.unlink()
    else:
        publish(source, bad())
    with caplog.at_level(logging.ERROR, logger="educonnect.metadata"):
        outcome = refresh(settings, crypto, CONVERTERS, now())
    assert not outcome.is_good
    assert settings.copy_file.read_text() == good  # the last good copy, untouched
    assert "la dernière copie valide est conservée" in outcome.message
    ours = [r for r in caplog.records if r.name == "educonnect.metadata" and r.levelno >= logging.ERROR]
    assert [r.getMessage() for r in ours] == [outcome.message]
    status = json.loads(settings.status_file.read_text())
    assert status["good"] is False and status["message"] == outcome.message


def test_a_refresh_over_https_checks_the_server(tmp_path, signer, ent_metadata):
    crypto = saml_backend.tested_backend("inprocess")
    served = tmp_path / "www"
    served.mkdir()
    publish(served / "ent.xml", signed_aggregate([ent_metadata], signer, tmp_path))
    tls = tls_files(tmp_path / "tls")
    with https_server(served, tls) as base:
        good = settings_for(tmp_path, f"{base}/ent.xml", signer, ca_file=tls.ca_file)
        assert refresh(good, crypto, CONVERTERS, now()).is_good
        assert good.copy_file.read_bytes() == (served / "ent.xml").read_bytes()
        # A server whose certificate the configured CA did not issue is not read.
        untrusted = settings_for(
            tmp_path / "b", f"{base}/ent.xml", signer, ca_file=tls_files(tmp_path, "x").ca_file
        )
        with pytest.raises(AggregateRefused, match="CERTIFICATE_VERIFY_FAILED") as caught:
            read_source(untrusted)
        assert caught.value.reason == "unreachable"
        missing = settings_for(tmp_path, f"{base}/absent.xml", signer, ca_file=tls.ca_file)
        assert not refresh(missing, crypto, CONVERTERS, now()).is_good  # 404
    # The server stopped: unreachable, the copy kept.
    outcome = refresh(good, crypto, CONVERTERS, now())
    assert not outcome.is_good and "unreachable" in outcome.message
    assert good.copy_file.exists()


def test_plain_http_is_not_a_source(tmp_path, signer):
    with pytest.raises(AggregateRefused, match="https://") as caught:
        read_source(settings_for(tmp_path, "http://127.0.0.1:1/ent.xml", signer))
    assert caught.value.reason == "unreachable"


def test_an_old_signed_aggregate_inside_a_fake_signed_root_is_refused(tmp_path, crypto, signer, ent_metadata):
    """Signature wrapping against xmlsec1, which verifies the first ds:Signature of the document:
    an old, genuinely signed (and expired) aggregate inside a new root with a fake signature."""
    old = sign(unsigned_aggregate([ent_metadata], now() - dt.timedelta(days=30)), signer, tmp_path)
    old_body = re.sub(r"^\s*<\?xml[^>]*\?>", "", old).strip()
    forged_sp = ent_metadata.replace("https://ent.test", "https://forged.test")
    forged_sp = re.sub(r"^\s*<\?xml[^>]*\?>", "", forged_sp).strip()
    fake = (
        _SIGNATURE_TEMPLATE.format(id="_outer")
        .replace("<ds:DigestValue/>", "<ds:DigestValue>AAAA</ds:DigestValue>")
        .replace("<ds:SignatureValue/>", "<ds:SignatureValue>AAAA</ds:SignatureValue>")
    )
    wrapped = (
        '<md:EntitiesDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" ID="_outer" '
        f'validUntil="2099-01-01T00:00:00Z">{old_body}{forged_sp}{fake}</md:EntitiesDescriptor>'
    )
    assert refused(wrapped, signer, crypto).reason == "signature"


class _SaysNo(saml_backend.ProfiledXmlSec1Backend):
    """A backend that answers False (no exception): pysaml2's MetaDataLoader ignores the answer."""

    def validate_signature(self, *args, **kwargs) -> bool:
        return False


def test_a_backend_answering_false_refuses_the_aggregate(tmp_path, signer, ent_metadata):
    xml = signed_aggregate([ent_metadata], signer, tmp_path)
    backend = _SaysNo(saml_backend.get_xmlsec_binary())
    assert refused(xml, signer, backend).reason == "signature"


def test_xmlsec1_is_told_which_node_to_verify(tmp_path, signer, ent_metadata, monkeypatch):
    """Without --node-id, xmlsec1 verifies the first ds:Signature of the document."""
    commands = []
    original = saml_backend.CryptoBackendXmlSec1._run_xmlsec

    def run(self, com_list, extra_args):
        commands.append(list(com_list))
        return original(self, com_list, extra_args)

    monkeypatch.setattr(saml_backend.CryptoBackendXmlSec1, "_run_xmlsec", run)
    xml = signed_aggregate([ent_metadata], signer, tmp_path)
    found = re.search(r'EntitiesDescriptor [^>]*ID="([^"]+)"', xml)
    assert found is not None
    aggregate_id = found.group(1)
    verify(xml.encode(), signer.cert_file, saml_backend.make_crypto_backend("xmlsec1"), CONVERTERS, now())
    verifications = [c for c in commands if "--verify" in c]
    assert verifications
    assert all(c[c.index("--node-id") + 1] == aggregate_id for c in verifications if "--node-id" in c)
    assert all("--node-id" in c for c in verifications)


def _published_at(
    entities: list[str], created: dt.datetime, valid_for: dt.timedelta, signer, work: Path
) -> str:
    xml = unsigned_aggregate(entities, now() + valid_for)
    info = (
        '<md:Extensions><mdrpi:PublicationInfo xmlns:mdrpi="urn:oasis:names:tc:SAML:metadata:rpi" '
        f'publisher="urn:test:federation" creationInstant="{created:%Y-%m-%dT%H:%M:%SZ}"/></md:Extensions>'
    )
    return sign(xml.replace("</ds:Signature>", "</ds:Signature>" + info, 1), signer, work)


def test_an_aggregate_published_before_the_kept_copy_is_refused(tmp_path, signer, ent_metadata, caplog):
    """With mdrpi:PublicationInfo on both, creationInstant decides (here the older one lasts longer)."""
    crypto = saml_backend.tested_backend("inprocess")
    source = tmp_path / "federation.xml"
    kept = _published_at([ent_metadata], now() - dt.timedelta(days=1), dt.timedelta(days=7), signer, tmp_path)
    publish(source, kept)
    settings = settings_for(tmp_path, str(source), signer)
    assert refresh(settings, crypto, CONVERTERS, now()).is_good
    older = _published_at(
        [ent_metadata], now() - dt.timedelta(days=9), dt.timedelta(days=20), signer, tmp_path
    )
    publish(source, older)
    with caplog.at_level(logging.ERROR, logger="educonnect.metadata"):
        outcome = refresh(settings, crypto, CONVERTERS, now())
    assert not outcome.is_good and "(rollback)" in outcome.message
    assert settings.copy_file.read_text() == kept
    assert any("creationInstant" in r.getMessage() for r in caplog.records)
    newer = _published_at([ent_metadata], now(), dt.timedelta(days=6), signer, tmp_path)
    publish(source, newer)  # published later, even if it expires sooner: taken
    assert refresh(settings, crypto, CONVERTERS, now()).is_good
