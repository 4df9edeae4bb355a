"""SPs added, changed and removed while ÉduConnect runs (issue 16 item 3), no restart.

One IdP app, configured from an ``idp.toml`` the test writes (the same file the commands read),
with ``check_seconds = 0`` so that each request looks at the registry's sources. The SP is
OneLogin's python3-saml (tests/onelogin_sp.py), registered by the signed aggregate (served from
a file and from an HTTPS server on loopback) or by ``educonnect-bridge sp add``.
"""

from __future__ import annotations

import base64
import datetime as dt
import logging
import secrets
import shutil
from dataclasses import dataclass
from pathlib import Path

import lxml.etree
import lxml.html
import pytest
from click.testing import CliRunner
from flask import Flask

from educonnect_bridge.cli import main
from federation.keys import KeyPair
from federation.migrations import upgrade
from federation.settings import load_settings
from tests.browser import Browser, page_text
from tests.flows.saml_steps import PASSWORD, add_parent
from tests.onelogin_sp import BASE as SP
from tests.onelogin_sp import create_sp_app, onelogin_settings, sp_metadata
from tests.sp_aggregate import https_server, operator_key, publish, signed_aggregate, tls_files

IDP = "https://idp.test"
SN = "urn:oid:2.5.4.4"
GIVEN_NAME = "urn:oid:2.5.4.42"


@dataclass
class Federation:
    root: Path
    config: Path
    idp: Flask
    sp: Flask
    sp_metadata: str
    ent_metadata: str
    signer: KeyPair

    def browser(self) -> Browser:
        return Browser({IDP: self.idp, SP: self.sp})

    def cli(self, *args: str):
        return CliRunner().invoke(main, list(args), env={"EDUCONNECT_CONFIG_DIR": str(self.config)})

    def aggregate(
        self, *entities: str, signer: KeyPair | None = None, valid_for: dt.timedelta = dt.timedelta(days=7)
    ) -> str:
        return signed_aggregate(list(entities), signer or self.signer, self.root / "signing", valid_for)


def make_federation(
    deployment, root: Path, aggregate_table: str | None, certs_dir: Path | None = None
) -> Federation:
    config, sp_dir = root / "config", root / "service_providers"
    certs_dir = certs_dir or deployment.certs_dir
    config.mkdir(parents=True)
    database = f"sqlite:///{root / 'idp.sqlite3'}"
    upgrade(database)
    table = f"\n[sp_aggregate]\n{aggregate_table}\n" if aggregate_table is not None else ""
    (config / "idp.toml").write_text(
        f'base_url = "{IDP}"\nsecret_key = "{secrets.token_urlsafe(40)}"\ndatabase_url = "{database}"\n'
        f'state_dir = "{root / "var"}"\ncerts_dir = "{certs_dir}"\ncookie_samesite = "None"\n'
        f'peer_metadata = ["{deployment.metadata("aten.xml")}"]\n'
        'aten_entity_id = "https://aten.test/saml/metadata"\n'
        f'service_providers_dir = "{sp_dir}"\n'
        f"\n[sp_registry]\ncheck_seconds = 0\n{table}"
    )
    from idp import create_app as create_idp

    idp = create_idp(load_settings("idp", {"EDUCONNECT_CONFIG_DIR": str(config)}))
    settings = onelogin_settings(idp.extensions["idp"].saml.metadata, root)
    return Federation(
        root=root,
        config=config,
        idp=idp,
        sp=create_sp_app(settings),
        sp_metadata=sp_metadata(settings),
        ent_metadata=deployment.metadata("ent.xml").read_text(),
        signer=operator_key(root / "operator"),
    )


def is_refused(federation: Federation) -> bool:
    """The SP's signed AuthnRequest: « Service inconnu » (no redirect), or on to the login page."""
    page = federation.browser().follow(federation.browser().get(f"{SP}/login"))
    if page.request.url == f"{IDP}/connexion":
        return False
    assert page.status_code == 400 and "Service inconnu" in page_text(page), page_text(page)
    return True


def sign_in(federation: Federation) -> dict[str, list[str]]:
    """A parent signs in at the SP; the attributes ÉduConnect released to it (by Name)."""
    browser = federation.browser()
    account = add_parent(federation.idp)
    login_page = browser.follow(browser.get(f"{SP}/login"))
    assert login_page.request.url == f"{IDP}/connexion", page_text(login_page)
    post_page = browser.follow(
        browser.submit(login_page, identifiant=account.identifier, mot_de_passe=PASSWORD)
    )
    (value,) = lxml.html.fromstring(post_page.get_data(as_text=True)).xpath(
        '//input[@name="SAMLResponse"]/@value'
    )
    at_sp = browser.follow(browser.submit(post_page, form_id="saml-post"))
    assert at_sp.status_code == 200 and at_sp.get_json()["name_id"], at_sp.get_data(as_text=True)
    response = lxml.etree.fromstring(base64.b64decode(value))
    released: dict[str, list[str]] = {}
    for attribute in response.iter("{urn:oasis:names:tc:SAML:2.0:assertion}Attribute"):
        released[attribute.get("Name")] = [v.text or "" for v in attribute]
    return released


@pytest.fixture
def from_file(deployment, tmp_path) -> tuple[Federation, Path]:
    source = tmp_path / "www" / "federation-ent.xml"
    source.parent.mkdir()
    signer = operator_key(tmp_path / "operator")
    publish(source, signed_aggregate([deployment.metadata("ent.xml").read_text()], signer, tmp_path / "s"))
    table = f'source = "{source}"\nsigner_certificate = "{signer.cert_file}"'
    return make_federation(deployment, tmp_path, table), source


def test_an_sp_added_to_the_aggregate_signs_a_parent_in_without_restart(from_file, caplog):
    federation, source = from_file
    assert is_refused(federation)  # the first start fetched the aggregate: the ENT only
    publish(source, federation.aggregate(federation.ent_metadata, federation.sp_metadata))
    assert is_refused(federation)  # published, not yet fetched
    refreshed = federation.cli("sp", "refresh")
    assert refreshed.exit_code == 0, refreshed.output
    assert "accepté : 2 entité(s)" in refreshed.output
    with caplog.at_level(logging.WARNING, logger="educonnect.sp_registry"):
        assert sign_in(federation)[SN]
    assert any(f"ajoutés ['{SP}/metadata']" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("spoil", ["tampered", "wrong_signer", "expired"])
def test_a_refused_aggregate_keeps_the_last_good_copy_in_service(from_file, spoil):
    federation, source = from_file
    good = federation.aggregate(federation.ent_metadata, federation.sp_metadata)
    publish(source, good)
    assert federation.cli("sp", "refresh").exit_code == 0
    assert sign_in(federation)
    without_sp = {
        "tampered": lambda: good.replace(f"{SP}/acs", "https://attacker.test/acs"),
        "wrong_signer": lambda: federation.aggregate(
            federation.ent_metadata, signer=operator_key(federation.root / "other", "other")
        ),
        "expired": lambda: federation.aggregate(federation.ent_metadata, valid_for=-dt.timedelta(hours=1)),
    }[spoil]()
    publish(source, without_sp)
    refused = federation.cli("sp", "refresh")
    assert refused.exit_code == 1
    assert "refusé" in refused.output and "la dernière copie valide est conservée" in refused.output
    assert sign_in(federation)  # still served from the last good copy


def test_the_sps_of_an_aggregate_past_its_valid_until_are_no_longer_served(from_file):
    federation, source = from_file
    publish(source, federation.aggregate(federation.ent_metadata, federation.sp_metadata))
    assert federation.cli("sp", "refresh").exit_code == 0
    assert sign_in(federation)
    registry = federation.idp.extensions["idp"].saml
    registry.wall_clock = lambda: dt.datetime.now(dt.UTC) + dt.timedelta(days=8)
    assert is_refused(federation)


def test_an_aggregate_from_https_refreshed_on_schedule(deployment, tmp_path):
    served = tmp_path / "www"
    served.mkdir()
    signer = operator_key(tmp_path / "operator")
    ent = deployment.metadata("ent.xml").read_text()
    publish(served / "ent.xml", signed_aggregate([ent], signer, tmp_path / "s"))
    tls = tls_files(tmp_path / "tls")
    with https_server(served, tls) as base:
        table = (
            f'source = "{base}/ent.xml"\nsigner_certificate = "{signer.cert_file}"\n'
            f'ca_file = "{tls.ca_file}"\nrefresh_seconds = 60'
        )
        federation = make_federation(deployment, tmp_path, table)
        assert is_refused(federation)
        publish(served / "ent.xml", federation.aggregate(ent, federation.sp_metadata))
        registry = federation.idp.extensions["idp"].saml
        registry.wall_clock = lambda: dt.datetime.now(dt.UTC) + dt.timedelta(seconds=61)
        is_refused(federation)  # this request finds the refresh due and starts it, in a thread
        threads = [t for t in __import__("threading").enumerate() if t.name == "sp-aggregate-refresh"]
        for thread in threads:
            thread.join(timeout=30)
        assert sign_in(federation)[SN]


def test_sp_add_and_a_release_change_take_effect_without_restart(deployment, tmp_path):
    federation = make_federation(deployment, tmp_path, None)
    metadata_file = tmp_path / "sp-onelogin.xml"
    metadata_file.write_text(federation.sp_metadata)
    assert is_refused(federation)
    added = federation.cli("sp", "add", str(metadata_file), "--attribute", "sn")
    assert added.exit_code == 0, added.output
    assert "sans redémarrage" in added.output
    released = sign_in(federation)
    assert SN in released and GIVEN_NAME not in released
    changed = federation.cli("sp", "add", str(metadata_file), "--attribute", "sn", "--attribute", "givenName")
    assert changed.exit_code == 0, changed.output
    released = sign_in(federation)
    assert SN in released and GIVEN_NAME in released
    (tmp_path / "service_providers" / "sp-onelogin.xml").unlink()
    assert is_refused(federation)


def test_a_broken_file_dropped_in_the_sp_directory_keeps_the_registry_in_service(
    deployment, tmp_path, caplog
):
    federation = make_federation(deployment, tmp_path, None)
    metadata_file = tmp_path / "sp-onelogin.xml"
    metadata_file.write_text(federation.sp_metadata)
    assert federation.cli("sp", "add", str(metadata_file)).exit_code == 0
    assert sign_in(federation)
    (tmp_path / "service_providers" / "broken.xml").write_text("<md:EntityDescriptor")
    with caplog.at_level(logging.ERROR, logger="educonnect.sp_registry"):
        assert sign_in(federation)
    assert any("le registre précédent reste en service" in r.getMessage() for r in caplog.records)


def test_requests_during_a_rebuild_keep_the_registry_in_service(deployment, tmp_path):
    """No request waits for, or sees, a registry being built: the old one until the swap."""
    import threading

    federation = make_federation(deployment, tmp_path, None)
    live = federation.idp.extensions["idp"].saml
    before = live.current()
    building, release = threading.Event(), threading.Event()
    build = live._build

    def slow_build(fingerprint):
        building.set()
        assert release.wait(timeout=30)
        return build(fingerprint)

    live._build = slow_build
    metadata_file = tmp_path / "sp-onelogin.xml"
    metadata_file.write_text(federation.sp_metadata)
    assert federation.cli("sp", "add", str(metadata_file)).exit_code == 0
    rebuilding = threading.Thread(target=live.current)
    rebuilding.start()
    assert building.wait(timeout=30)
    assert live.current() is before  # at once, while the other thread builds
    assert is_refused(federation)
    release.set()
    rebuilding.join(timeout=30)
    after = live.current()
    assert after is not before and f"{SP}/metadata" in after.saml.providers
    assert sign_in(federation)


def test_an_sp_registered_by_its_own_file_keeps_that_release_over_the_aggregate(from_file):
    federation, source = from_file
    publish(source, federation.aggregate(federation.ent_metadata, federation.sp_metadata))
    assert federation.cli("sp", "refresh").exit_code == 0
    assert GIVEN_NAME in sign_in(federation)  # the aggregate's release: the default, givenName in it
    metadata_file = federation.root / "sp-onelogin.xml"
    metadata_file.write_text(federation.sp_metadata)
    assert federation.cli("sp", "add", str(metadata_file), "--attribute", "sn").exit_code == 0
    released = sign_in(federation)
    assert SN in released and GIVEN_NAME not in released


def test_the_release_of_one_sp_of_the_aggregate_changes_without_restart(from_file):
    federation, source = from_file
    publish(source, federation.aggregate(federation.ent_metadata, federation.sp_metadata))
    assert federation.cli("sp", "refresh").exit_code == 0
    assert GIVEN_NAME in sign_in(federation)
    sp_dir = federation.root / "service_providers"
    sp_dir.mkdir(exist_ok=True)
    publish(sp_dir / "sp-onelogin.toml", f'entity_id = "{SP}/metadata"\nattributes = ["sn"]\n')
    released = sign_in(federation)
    assert SN in released and GIVEN_NAME not in released
    # Without entity_id it names no SP: the aggregate's release again.
    publish(sp_dir / "sp-onelogin.toml", 'attributes = ["sn"]\n')
    assert GIVEN_NAME in sign_in(federation)


def test_a_rebuild_after_saml_keys_next_publishes_the_keys_of_the_start(deployment, tmp_path):
    """The key set is read once per process: a rebuild (here for `sp add`) after `saml keys next`
    neither publishes nor uses the next key before the restart, in this worker as in the others."""
    certs = tmp_path / "certs"
    shutil.copytree(deployment.certs_dir, certs)
    federation = make_federation(deployment, tmp_path, None, certs_dir=certs)

    def published_signing_certificates() -> int:
        page = federation.browser().get(f"{IDP}/saml/metadata")
        root = lxml.etree.fromstring(page.get_data())
        return len(root.findall(".//{urn:oasis:names:tc:SAML:2.0:metadata}KeyDescriptor[@use='signing']"))

    assert published_signing_certificates() == 1
    announced = CliRunner().invoke(
        main,
        ["saml", "keys", "next", "--service", "idp", "--use", "signing"],
        env={"EDUCONNECT_CERTS_DIR": str(certs)},
    )
    assert announced.exit_code == 0, announced.output
    metadata_file = tmp_path / "sp-onelogin.xml"
    metadata_file.write_text(federation.sp_metadata)
    added = federation.cli("sp", "add", str(metadata_file), "--attribute", "sn")
    assert added.exit_code == 0, added.output
    assert SN in sign_in(federation)  # rebuilt: the new SP is served
    assert published_signing_certificates() == 1  # and the next key is not published yet
