"""SAML key rollover across the three services, as partners refreshing their metadata live it
(issue 16 item 1, README « SAML key rollover »).

Each case rolls one key with the documented commands (``educonnect-bridge saml keys next``,
``rotate``, ``retire``); after each command the service is restarted and publishes its metadata
(what ``metadata export`` writes and /saml/metadata serves), and the partners are restarted with
their copy of it: refreshed at once, or still the copy of an earlier step. Parents sign in
through the real apps (flow A at the ENT, flow B through ATEN) at every step:

* announced: the next key is published beside the current one and not used (the messages are
  signed with the current key; peers encrypt to the current key); partners on either copy work;
* switched: the new key signs (peers encrypt to it once refreshed); a partner holding the copy
  from before the announcement refuses the signatures (the reason to announce first), one
  holding the announced copy accepts them; decryption still takes what was encrypted to the old
  key;
* retired: the old key is gone from the metadata; a signature by it (a replica left with the old
  key) is refused, and so is an assertion encrypted to it.
"""

from __future__ import annotations

import base64
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import lxml.html
import pytest
from click.testing import CliRunner
from flask import Flask
from lxml import etree
from saml2.sigver import RSACrypto, verify_redirect_signature

from educonnect_bridge.cli import main
from educonnect_bridge.composition import own_metadata
from federation.keys import generate_service_keys, key_pair
from federation.migrations import upgrade
from federation.settings import SERVICES, ServiceName, Settings
from federation.xml_security import InProcessXmlSecBackend, XmlSecurityError
from tests.browser import Browser, page_text
from tests.conftest import BASE_URLS, DEMO_LDIF, Deployment
from tests.flows.saml_steps import PASSWORD, add_parent
from tests.flows.transition_steps import ATEN_PARENTS
from tests.saml_schemas import saml_schema

MD = "urn:oasis:names:tc:SAML:2.0:metadata"
DS = "http://www.w3.org/2000/09/xmldsig#"
RESPONSE = "urn:oasis:names:tc:SAML:2.0:protocol:Response"
REFUSED = "Demande de connexion refusée"
# The metadata documents of each service, as its partners hold them.
DOCUMENTS = {"idp": ("idp.xml", "idp-sp.xml"), "ent": ("ent.xml",), "aten": ("aten.xml",)}


@dataclass
class Trace:
    """What one journey sent, to see which key signed it or which key it was encrypted to."""

    ent_request_url: str = ""  # the ENT's signed AuthnRequest (HTTP-Redirect)
    aten_request_url: str = ""  # ÉduConnect's signed AuthnRequest to ATEN (HTTP-Redirect)
    idp_response: str = ""  # ÉduConnect's Response to the ENT
    aten_response: str = ""  # ATEN's Response to ÉduConnect
    pages: list[str] = field(default_factory=list)


@dataclass
class Federation:
    """Three services sharing one certs dir; each restart builds new apps on given copies."""

    deployment: Deployment
    database_url: str
    steps: int = 0

    @property
    def certs_dir(self) -> Path:
        return self.deployment.certs_dir

    def publish(self) -> dict[str, Path]:
        """Every service's metadata as it publishes it now (saved as this step's copies)."""
        self.steps += 1
        directory = self.deployment.root / f"published-{self.steps}"
        directory.mkdir()
        for service in SERVICES:
            settings = self.deployment.settings(
                service, "sqlite://", None, peer_metadata=[], service_providers=[]
            )
            for name, xml in own_metadata(settings).items():
                (directory / name).write_text(xml)
        return {name: directory / name for names in DOCUMENTS.values() for name in names}

    def saml_keys(self, *args: str) -> str:
        result = CliRunner().invoke(
            main, ["saml", "keys", *args], env={"EDUCONNECT_CERTS_DIR": str(self.certs_dir)}
        )
        assert result.exit_code == 0, result.output
        return result.output

    def snapshot_certs(self) -> Path:
        """A copy of today's keys: what a replica that is never restarted keeps signing with."""
        self.steps += 1
        copy = self.deployment.root / f"certs-{self.steps}"
        shutil.copytree(self.certs_dir, copy)
        return copy

    def apps(self, copies: dict[str, Path], stale: dict[str, Path] | None = None) -> dict[str, Flask]:
        """The three services restarted, each partner reading its ``copies`` of the others'
        metadata; ``stale`` gives a service another certs dir (a replica left behind)."""
        from aten_adapter import create_app as create_aten
        from idp import create_app as create_idp
        from sp_ent import create_app as create_ent

        stale = stale or {}

        def settings(service: ServiceName, **overrides: object) -> Settings:
            certs = stale.get(service, self.certs_dir)
            return self.deployment.settings(
                service, self.database_url, None, certs_dir=str(certs), **overrides
            )

        idp = create_idp(
            settings(
                "idp",
                service_providers=[{"metadata": str(copies["ent.xml"])}],
                peer_metadata=[str(copies["aten.xml"])],
            )
        )
        ent = create_ent(settings("ent", peer_metadata=[str(copies["idp.xml"])]))
        aten = create_aten(
            settings(
                "aten",
                peer_metadata=[str(copies["idp-sp.xml"])],
                directory={"backend": "ldif", "ldif_file": str(DEMO_LDIF)},
            ),
            env={},
        )
        return {BASE_URLS["ent"]: ent, BASE_URLS["idp"]: idp, BASE_URLS["aten"]: aten}


def _post_form(page) -> str:
    doc = lxml.html.fromstring(page.get_data(as_text=True))
    values = doc.xpath('//form[@id="saml-post"]//input[@name="SAMLResponse"]/@value')
    return base64.b64decode(values[0]).decode() if values else ""


def ent_sign_in(apps: dict[str, Flask], identifier: str, trace: Trace) -> bool:
    """Flow A: ENT → ÉduConnect (password) → signed Response → ENT page; True if signed in."""
    browser = Browser(apps)
    to_idp = browser.get("https://ent.test/connexion/educonnect")
    trace.ent_request_url = to_idp.headers.get("Location", "")
    page = browser.follow(to_idp)
    if page.request.path == "/connexion":
        page = browser.follow(browser.submit(page, identifiant=identifier, mot_de_passe=PASSWORD))
        trace.idp_response = _post_form(page)
        if trace.idp_response:
            page = browser.follow(browser.submit(page, form_id="saml-post"))
    trace.pages.append(page_text(page))
    return "Bonjour Claire Martin" in page_text(page)


def aten_transition(apps: dict[str, Flask], trace: Trace) -> bool:
    """Flow B: ENT → ÉduConnect → ATEN (« VALIDER ») → signed Response → ÉduConnect's
    « Choisir mon mot de passe »; True if ÉduConnect accepted ATEN's answer."""
    browser = Browser(apps)
    page = browser.follow(browser.get("https://ent.test/connexion/sans-compte"))
    sent = [
        h.removeprefix("GET ") for h in browser.history if h.startswith("GET https://aten.test/saml/sso?")
    ]
    trace.aten_request_url = sent[0] if sent else ""
    if page.request.url.startswith("https://aten.test/connexion"):
        password = ATEN_PARENTS["mdurand"][0]
        page = browser.follow(browser.submit(page, identifiant="mdurand", mot_de_passe=password))
        trace.aten_response = _post_form(page)
        if trace.aten_response:
            page = browser.follow(browser.submit(page, form_id="saml-post"))
    trace.pages.append(page_text(page))
    return page.request.path == "/transition/compte"


def journeys(apps: dict[str, Flask], identifier: str, which: tuple[str, ...]) -> tuple[bool, Trace]:
    trace = Trace()
    outcomes = [
        ent_sign_in(apps, identifier, trace) if name == "sign-in" else aten_transition(apps, trace)
        for name in which
    ]
    assert len(set(outcomes)) == 1, f"journeys disagree: {which} {outcomes} {trace.pages}"
    return outcomes[0], trace


# --- which key signed a message, which key an assertion was encrypted to ---------------------


def _redirect_signed_by(url: str, certificate: Path) -> bool:
    fields = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
    return bool(verify_redirect_signature(fields, RSACrypto(None), certificate_text(certificate)))


def _xml_signed_by(xml: str, certificate: Path) -> bool:
    root = etree.fromstring(xml.encode())
    try:
        return InProcessXmlSecBackend().validate_signature(
            xml, str(certificate), "pem", RESPONSE, root.get("ID")
        )
    except XmlSecurityError:
        return False


def _decrypts_with(xml: str, key_file: Path) -> bool:
    try:
        InProcessXmlSecBackend().decrypt(xml, str(key_file))
    except XmlSecurityError:
        return False
    return True


def used_key(service: str, use: str, trace: Trace, pair_of: dict[str, Path]) -> str:
    """Which generation (``current`` / ``next``…, by certificate or key file) the trace shows."""
    for generation, path in pair_of.items():
        if use == "signing":
            if service == "ent" and _redirect_signed_by(trace.ent_request_url, path):
                return generation
            if service == "idp" and _xml_signed_by(trace.idp_response, path):
                assert _redirect_signed_by(trace.aten_request_url, path)  # the same key toward ATEN
                return generation
            if service == "aten" and _xml_signed_by(trace.aten_response, path):
                return generation
        else:
            encrypted = trace.idp_response if service == "ent" else trace.aten_response
            assert "EncryptedAssertion" in encrypted
            if _decrypts_with(encrypted, path):
                return generation
    raise AssertionError(f"no known {service} {use} key in the trace")


def published_certificates(document: Path, use: str) -> set[str]:
    root = etree.parse(str(document)).getroot()
    return {
        "".join((cert.text or "").split())
        for cert in root.iterfind(f".//{{{MD}}}KeyDescriptor[@use='{use}']//{{{DS}}}X509Certificate")
    }


def certificate_text(path: Path) -> str:
    lines = path.read_text().strip().splitlines()
    return "".join(lines[1:-1])


# Which journeys each rolled key takes part in.
CASES = {
    ("idp", "signing"): ("sign-in", "transition"),  # Responses to the ENT, AuthnRequests to ATEN
    ("idp", "encryption"): ("transition",),  # ATEN's assertions to ÉduConnect
    ("ent", "signing"): ("sign-in",),  # the ENT's AuthnRequests
    ("ent", "encryption"): ("sign-in",),  # ÉduConnect's assertions to the ENT
    ("aten", "signing"): ("transition",),  # ATEN's Responses
}


@pytest.fixture
def federation(tmp_path) -> Federation:
    deployment = Deployment(root=tmp_path, certs_dir=tmp_path / "certs", metadata_dir=tmp_path / "metadata")
    generate_service_keys(deployment.certs_dir, SERVICES)
    database_url = f"sqlite:///{tmp_path / 'idp.sqlite3'}"
    upgrade(database_url)
    return Federation(deployment, database_url)


@pytest.mark.parametrize(("service", "use"), sorted(CASES))
def test_rollover_announce_switch_retire(federation: Federation, service: str, use: str) -> None:
    which = CASES[(service, use)]
    documents = DOCUMENTS[service]
    old_pair = key_pair(federation.certs_dir, service, use)
    old = {"cert": old_pair.cert_file.read_text(), "key": old_pair.key_file.read_text()}

    def keep(name: str, content: str) -> Path:
        path = federation.deployment.root / name
        path.write_text(content)
        return path

    old_files = {"cert": keep("old.crt", old["cert"]), "key": keep("old.key", old["key"])}
    before = federation.publish()
    apps = federation.apps(before)
    parent = add_parent(apps[BASE_URLS["idp"]])
    assert journeys(apps, parent.identifier, which)[0]
    behind = federation.snapshot_certs()  # a replica that will never be restarted

    # 1. Announce: published beside the current key, not used yet.
    federation.saml_keys("next", "--service", service, "--use", use)
    announced = federation.publish()
    upcoming = key_pair(federation.certs_dir, service, use, "next")
    for name in documents:
        saml_schema().validate(str(announced[name]))  # two keys of one use: still valid metadata
        assert published_certificates(announced[name], use) == {
            certificate_text(old_files["cert"]),
            certificate_text(upcoming.cert_file),
        }
    new_files = {
        "cert": keep("new.crt", upcoming.cert_file.read_text()),
        "key": keep("new.key", upcoming.key_file.read_text()),
    }
    probe = {
        "old": old_files["cert" if use == "signing" else "key"],
        "new": new_files["cert" if use == "signing" else "key"],
    }
    ok, trace = journeys(federation.apps(announced), parent.identifier, which)
    assert ok, trace.pages
    assert used_key(service, use, trace, probe) == "old"  # announced, not used
    ok, _ = journeys(federation.apps(before), parent.identifier, which)  # partners not refreshed yet
    assert ok

    # 2. Switch: the new key is used; the old one stays published (and decrypting).
    federation.saml_keys("rotate", "--service", service, "--use", use)
    switched = federation.publish()
    for name in documents:
        assert published_certificates(switched[name], use) == published_certificates(announced[name], use)
    ok, trace = journeys(federation.apps(switched), parent.identifier, which)
    assert ok, trace.pages
    assert used_key(service, use, trace, probe) == "new"
    not_refreshed_since_announce = {**switched, **{name: announced[name] for name in documents}}
    ok, trace = journeys(federation.apps(not_refreshed_since_announce), parent.identifier, which)
    assert ok, trace.pages
    never_refreshed = {**switched, **{name: before[name] for name in documents}}
    ok, trace = journeys(federation.apps(never_refreshed), parent.identifier, which)
    if use == "signing":
        assert not ok and REFUSED in trace.pages[-1]  # the new key was never announced to it
    else:
        assert ok, trace.pages  # encrypted to the old key: still decrypted during the rollover
        assert used_key(service, use, trace, probe) == "old"

    # 3. Retire: the old key is no longer published, nor accepted, nor decrypting.
    federation.saml_keys("retire", "--service", service, "--use", use)
    retired = federation.publish()
    for name in documents:
        assert published_certificates(retired[name], use) == {certificate_text(new_files["cert"])}
    ok, trace = journeys(federation.apps(retired), parent.identifier, which)
    assert ok, trace.pages
    if use == "signing":
        ok, trace = journeys(federation.apps(retired, stale={service: behind}), parent.identifier, which)
        assert not ok and REFUSED in trace.pages[-1]  # signed by the retired key
    else:
        ok, trace = journeys(
            federation.apps({**retired, **{n: before[n] for n in documents}}), parent.identifier, which
        )
        assert not ok and REFUSED in trace.pages[-1]  # encrypted to the retired key


def test_a_rollover_step_out_of_order_is_refused_with_a_sentence(federation: Federation) -> None:
    runner = CliRunner()
    env = {"EDUCONNECT_CERTS_DIR": str(federation.certs_dir)}
    rotate = runner.invoke(main, ["saml", "keys", "rotate", "--service", "ent"], env=env)
    assert rotate.exit_code == 1
    assert "aucune clé de signature suivante pour ent : annoncez-la d'abord" in rotate.output
    retire = runner.invoke(main, ["saml", "keys", "retire", "--service", "ent"], env=env)
    assert retire.exit_code == 1 and "aucune ancienne clé de signature à retirer pour ent" in retire.output
    assert runner.invoke(main, ["saml", "keys", "next", "--service", "ent"], env=env).exit_code == 0
    again = runner.invoke(main, ["saml", "keys", "next", "--service", "ent", "--use", "signing"], env=env)
    assert again.exit_code == 1 and "déjà annoncée" in again.output
    assert runner.invoke(main, ["saml", "keys", "rotate", "--service", "ent"], env=env).exit_code == 0
    assert runner.invoke(main, ["saml", "keys", "next", "--service", "ent"], env=env).exit_code == 0
    early = runner.invoke(main, ["saml", "keys", "rotate", "--service", "ent"], env=env)
    assert early.exit_code == 1 and "n'est pas encore retirée" in early.output
    # rotate and retire without --use took both uses: the encryption key rolled with the signing one
    assert key_pair(federation.certs_dir, "ent", "encryption", "previous").exists()


@pytest.mark.parametrize(
    ("service", "use"), [("idp", "signing"), ("ent", "encryption"), ("idp", "encryption")]
)
def test_rotate_changes_nothing_for_running_services_until_their_restart(
    federation: Federation, service: str, use: str
) -> None:
    """Running processes read their keys at start: ``rotate`` (which moves the role files) leaves
    them signing with the old key and decrypting what was encrypted to it; a restart switches."""
    which = CASES[(service, use)]
    probe_of = "cert_file" if use == "signing" else "key_file"
    old = federation.deployment.root / "old.pem"
    old.write_text(getattr(key_pair(federation.certs_dir, service, use), probe_of).read_text())
    federation.saml_keys("next", "--service", service, "--use", use)
    new = federation.deployment.root / "new.pem"
    new.write_text(getattr(key_pair(federation.certs_dir, service, use, "next"), probe_of).read_text())
    announced = federation.publish()
    running = federation.apps(announced)  # started after the announcement, partners refreshed
    parent = add_parent(running[BASE_URLS["idp"]])
    signed_in, trace = journeys(running, parent.identifier, which)
    assert signed_in
    assert used_key(service, use, trace, {"old": old, "new": new}) == "old"

    federation.saml_keys("rotate", "--service", service, "--use", use)  # no restart
    signed_in, trace = journeys(running, parent.identifier, which)
    assert signed_in, trace.pages
    assert used_key(service, use, trace, {"old": old, "new": new}) == "old"

    restarted = federation.apps(federation.publish())
    signed_in, trace = journeys(restarted, parent.identifier, which)
    assert signed_in, trace.pages
    assert used_key(service, use, trace, {"old": old, "new": new}) == "new"
