"""ATEN's SAML IdP end to end: the test SP (ÉduConnect as SP) → ATEN login « VALIDER » → signed
Response accepted by pysaml2, strict production settings; and every refusal as an error page."""

from __future__ import annotations

import re

import pytest
from lxml import etree
from saml2.saml import NAMEID_FORMAT_PERSISTENT, NAMEID_FORMAT_TRANSIENT

from aten_adapter import create_app
from federation.errors import ConfigurationError
from tests.aten.conftest import LDIF_TABLE, aten_settings, ldap_table
from tests.aten.demo_accounts import DEMO_PASSWORDS
from tests.aten.educonnect_sp import (
    ATEN,
    SP_ACS,
    SP_ENTITY_ID,
    EduConnectSp,
    decoded_response,
    post_fields,
    query_of,
    with_query,
    write_sp_metadata,
)
from tests.browser import Browser, page_text
from tests.ldap_server import DEMO_LDIF, free_port

ATEN_ENTITY_ID = f"{ATEN}/saml/metadata"
DS = "{http://www.w3.org/2000/09/xmldsig#}"
SAMLP = "{urn:oasis:names:tc:SAML:2.0:protocol}"
SAML = "{urn:oasis:names:tc:SAML:2.0:assertion}"
RSA_SHA1 = "http://www.w3.org/2000/09/xmldsig#rsa-sha1"


def ldif_values(uid: str, attribute: str) -> list[str]:
    from aten_adapter.directory.ldif_reader import read_ldif

    (record,) = [r for r in read_ldif(DEMO_LDIF) if r.values("uid") == [uid]]
    return record.values(attribute)


def login_page(browser: Browser, sp: EduConnectSp, **request_options):
    to_login = browser.get(sp.authn_url(**request_options))
    assert to_login.status_code == 302, page_text(to_login)
    assert to_login.headers["Location"].endswith("/connexion")
    return browser.follow(to_login)


def sign_in(browser: Browser, sp: EduConnectSp, uid: str, password: str | None = None):
    page = login_page(browser, sp)
    return browser.submit(
        page, identifiant=uid, mot_de_passe=DEMO_PASSWORDS[uid] if password is None else password
    )


def assert_refused(response, title: str) -> None:
    assert response.status_code == 400
    assert "Location" not in response.headers  # an error page, never a redirect
    assert title in page_text(response)
    assert "Traceback" not in response.get_data(as_text=True)


# ---- metadata -------------------------------------------------------------------------------


def test_metadata_announces_signed_requests_redirect_and_post_sso_and_persistent_nameid(aten_app):
    response = aten_app.test_client().get("/saml/metadata", base_url=ATEN)
    root = etree.fromstring(response.get_data())
    md = "{urn:oasis:names:tc:SAML:2.0:metadata}"
    assert root.get("entityID") == ATEN_ENTITY_ID
    (idp,) = root.findall(f"{md}IDPSSODescriptor")
    assert idp.get("WantAuthnRequestsSigned") == "true"
    assert {(s.get("Binding"), s.get("Location")) for s in idp.findall(f"{md}SingleSignOnService")} == {
        ("urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect", f"{ATEN}/saml/sso"),
        ("urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST", f"{ATEN}/saml/sso"),
    }
    assert [e.text for e in idp.findall(f"{md}NameIDFormat")] == [NAMEID_FORMAT_PERSISTENT]
    assert idp.findall(f"{md}KeyDescriptor[@use='signing']")


# ---- the successful path --------------------------------------------------------------------


def test_login_page_is_french_with_validate_button(browser, educonnect_sp):
    page = login_page(browser, educonnect_sp)
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert '<html lang="fr">' in html
    # the transition's first step, then the service title ([academie] name)
    assert "<title>Étape 1 sur 3 – Connexion ATEN – ATEN</title>" in html
    assert "Connexion avec votre compte ATEN" in page_text(page)
    assert re.search(r"<button[^>]*>VALIDER</button>", html)
    assert 'name="identifiant"' in html and 'name="mot_de_passe"' in html and 'type="password"' in html
    assert 'name="csrf_token"' in html
    assert "Identifiant" in page_text(page) and "Mot de passe" in page_text(page)


def test_signed_request_login_and_signed_response_accepted_by_the_sp(browser, educonnect_sp):
    page = sign_in(browser, educonnect_sp, "sdalmeida")
    assert page.status_code == 200, page_text(page)
    action, fields = post_fields(page)
    assert action == SP_ACS
    assert SP_ACS in page.headers["Content-Security-Policy"]  # form-action allows the SP's ACS only
    assert "<script>" not in page.get_data(as_text=True)
    assert fields["RelayState"] == "etat-relais"

    response = educonnect_sp.parse(fields["SAMLResponse"])
    assert response is not None
    name_id = response.name_id
    assert name_id.format == NAMEID_FORMAT_PERSISTENT
    assert name_id.name_qualifier == ATEN_ENTITY_ID
    assert name_id.sp_name_qualifier == SP_ENTITY_ID
    assert name_id.text == ldif_values("sdalmeida", "atenPersistentId")[0]
    identity = response.get_identity()
    assert identity["FrEduVecteur"] == ldif_values("sdalmeida", "FrEduVecteur")
    assert identity["FrEduVecteur"] == [
        "1|D'ALMEIDA|Sébastien|100004|0171234Z",
        "2|D'ALMEIDA|Sébastien|100005|0790012J",
        "2|D'ALMEIDA|Sébastien|100006|0160045M",
    ]
    assert identity["sn"] == ["D'Almeida"]
    assert identity["givenName"] == ["Sébastien"]
    assert identity["mail"] == ["sebastien.dalmeida@example.fr"]
    assert set(identity) == {"sn", "givenName", "mail", "FrEduVecteur"}  # nothing else, no password


def test_response_and_assertion_are_signed_rsa_sha256_without_sha1(browser, educonnect_sp):
    _, fields = post_fields(sign_in(browser, educonnect_sp, "mdurand"))
    raw = decoded_response(fields)
    # ÉduConnect's SP metadata publishes an encryption key: the assertion arrives encrypted.
    encrypted_root = etree.fromstring(raw.encode())
    assert encrypted_root.findall(f"{SAML}Assertion") == []
    assert len(encrypted_root.findall(f"{SAML}EncryptedAssertion")) == 1
    xml = educonnect_sp.client.sec.decrypt_keys(raw)
    assert "sha1" not in xml.lower()
    root = etree.fromstring(xml.encode())
    assert root.tag == f"{SAMLP}Response"
    (assertion,) = root.iter(f"{SAML}Assertion")
    for signed in (root, assertion):
        (signature,) = signed.findall(f"{DS}Signature")
        method = signature.find(f"{DS}SignedInfo/{DS}SignatureMethod").get("Algorithm")
        digest = signature.find(f"{DS}SignedInfo/{DS}Reference/{DS}DigestMethod").get("Algorithm")
        assert method == "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
        assert digest == "http://www.w3.org/2001/04/xmlenc#sha256"
        reference = signature.find(f"{DS}SignedInfo/{DS}Reference").get("URI")
        assert reference == "#" + signed.get("ID")
    assert root.get("Destination") == SP_ACS
    assert root.get("InResponseTo") in educonnect_sp.outstanding
    audience = assertion.find(f"{SAML}Conditions/{SAML}AudienceRestriction/{SAML}Audience")
    assert audience.text == SP_ENTITY_ID
    context = assertion.find(f"{SAML}AuthnStatement/{SAML}AuthnContext/{SAML}AuthnContextClassRef")
    assert context.text.endswith(":PasswordProtectedTransport")


def test_every_attribute_has_the_name_format_of_its_name(browser, educonnect_sp):
    _, fields = post_fields(sign_in(browser, educonnect_sp, "sdalmeida"))
    xml = educonnect_sp.client.sec.decrypt_keys(decoded_response(fields))
    (assertion,) = etree.fromstring(xml.encode()).iter(f"{SAML}Assertion")
    attributes = list(assertion.iter(f"{SAML}Attribute"))
    assert {a.get("FriendlyName") or a.get("Name") for a in attributes} == {
        "sn",
        "givenName",
        "mail",
        "FrEduVecteur",
    }
    for attribute in attributes:
        name = attribute.get("Name")
        expected = "uri" if name.startswith("urn:") else "basic"
        assert attribute.get("NameFormat") == f"urn:oasis:names:tc:SAML:2.0:attrname-format:{expected}", name


def test_parent_without_mail_gets_no_mail_attribute(browser, educonnect_sp):
    _, fields = post_fields(sign_in(browser, educonnect_sp, "elegoff"))
    identity = educonnect_sp.parse(fields["SAMLResponse"]).get_identity()
    assert "mail" not in identity
    assert identity["givenName"] == ["Éloïse"] and identity["sn"] == ["Le Goff"]
    assert identity["FrEduVecteur"] == [
        "2|LE GOFF|Éloïse|100002|0860034V",
        "2|LE GOFF|Éloïse|100003|0860034V",
    ]


def test_identifiant_is_case_and_space_insensitive(browser, educonnect_sp):
    page = login_page(browser, educonnect_sp)
    page = browser.submit(page, identifiant="  JDupont ", mot_de_passe=DEMO_PASSWORDS["jdupont"])
    assert post_fields(page)[0] == SP_ACS


@pytest.fixture
def aten_ldap_app(deployment, sp_metadata_file, ldap_settings, tmp_path):
    settings = aten_settings(deployment, tmp_path / "var", [sp_metadata_file], ldap_table(ldap_settings))
    return create_app(settings, env={})


def test_nameid_and_attributes_are_the_same_with_the_ldap_backend(
    aten_app, aten_ldap_app, deployment, aten_metadata_file
):
    released = []
    for app in (aten_app, aten_ldap_app):
        sp = EduConnectSp.build(deployment, aten_metadata_file)
        _, fields = post_fields(sign_in(Browser({ATEN: app}), sp, "hbernard"))
        response = sp.parse(fields["SAMLResponse"])
        released.append((response.name_id.text, response.get_identity()))
    assert released[0] == released[1]
    assert released[0][1]["FrEduVecteur"] == ["2|BERNARD|Hélène|999999|0790927D"]


def test_nameid_is_stable_across_logins(aten_app, deployment, aten_metadata_file):
    subjects = set()
    for _ in range(2):
        sp = EduConnectSp.build(deployment, aten_metadata_file)
        _, fields = post_fields(sign_in(Browser({ATEN: aten_app}), sp, "mdurand"))
        subjects.add(sp.parse(fields["SAMLResponse"]).name_id.text)
    assert subjects == {ldif_values("mdurand", "atenPersistentId")[0]}


def test_login_rotates_the_session_id(browser, educonnect_sp):
    page = login_page(browser, educonnect_sp)
    jar = browser.clients[ATEN]
    before = jar.get_cookie("aten_session", domain="aten.test").value
    browser.submit(page, identifiant="mdurand", mot_de_passe=DEMO_PASSWORDS["mdurand"])
    after = jar.get_cookie("aten_session", domain="aten.test")
    assert after is not None and after.value != before
    assert after.secure and after.http_only


def test_a_request_is_answered_once(browser, educonnect_sp):
    page = login_page(browser, educonnect_sp)
    first = browser.submit(page, identifiant="mdurand", mot_de_passe=DEMO_PASSWORDS["mdurand"])
    assert post_fields(first)[0] == SP_ACS
    again = browser.submit(page, identifiant="mdurand", mot_de_passe=DEMO_PASSWORDS["mdurand"])
    assert 'id="saml-post"' not in again.get_data(as_text=True)
    # Not an error for the parent: the way back to where the first answer went.
    assert "Votre compte ATEN a déjà été vérifié" in again.get_data(as_text=True)


# ---- wrong credentials and throttling -------------------------------------------------------


@pytest.mark.parametrize(
    ("identifier", "password"), [("mdurand", "Mauvais-2024"), ("inconnu", "Mauvais-2024")]
)
def test_wrong_password_and_unknown_identifiant_give_one_message(
    browser, educonnect_sp, identifier, password
):
    page = sign_in(browser, educonnect_sp, identifier, password=password)
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "Identifiant ou mot de passe incorrect." in page_text(page)
    assert f'value="{identifier}"' in html  # what was typed is kept
    assert password not in html  # the password never comes back
    assert 'id="saml-post"' not in html


def test_the_two_failure_pages_are_identical_but_for_the_identifiant(aten_app, educonnect_sp):
    pages = []
    for identifier in ("mdurand", "inconnu"):
        browser = Browser({ATEN: aten_app})
        page = sign_in(browser, educonnect_sp, identifier, password="Mauvais-2024")
        text = page_text(page)
        pages.append((page.status_code, re.sub(r"Identifiant ou mot de passe incorrect\.", "", text)))
    assert pages[0][0] == pages[1][0]
    assert pages[0][1] == pages[1][1]


def at_address(browser: Browser, address: str) -> Browser:
    browser.clients.setdefault(ATEN, browser.apps[ATEN].test_client()).environ_base["REMOTE_ADDR"] = address
    return browser


def test_failures_from_many_addresses_brake_the_identifiant(aten_app, educonnect_sp):
    budget = aten_app.extensions["aten"].settings.login_brake.account_attempts
    statuses = []
    for n in range(budget + 5):
        browser = at_address(Browser({ATEN: aten_app}), f"192.0.2.{n + 1}")
        statuses.append(sign_in(browser, educonnect_sp, "mdurand", password="Mauvais-2024").status_code)
    assert statuses == [200] * budget + [429] * 5
    browser = at_address(Browser({ATEN: aten_app}), "198.51.100.7")
    page = sign_in(browser, educonnect_sp, "mdurand")  # the right password, from elsewhere
    assert page.status_code == 429
    assert "Trop de tentatives de connexion" in page_text(page)
    assert "minutes environ" in page_text(page)
    assert 'id="saml-post"' not in page.get_data(as_text=True)


def test_a_browser_where_the_parent_signed_in_keeps_its_own_budget(aten_app, educonnect_sp):
    home = at_address(Browser({ATEN: aten_app}), "198.51.100.7")
    assert 'id="saml-post"' in sign_in(home, educonnect_sp, "mdurand").get_data(as_text=True)
    cookie = home.clients[ATEN].get_cookie("aten_appareil", domain="aten.test", path="/connexion")
    assert cookie is not None and cookie.secure and cookie.http_only and cookie.same_site == "Strict"
    budget = aten_app.extensions["aten"].settings.login_brake.account_attempts
    for n in range(budget * 2):
        sign_in(
            at_address(Browser({ATEN: aten_app}), f"192.0.2.{n + 1}"),
            educonnect_sp,
            "mdurand",
            "Mauvais-2024",
        )
    assert 'id="saml-post"' in sign_in(home, educonnect_sp, "mdurand").get_data(as_text=True)
    stranger = at_address(Browser({ATEN: aten_app}), "198.51.100.8")
    assert sign_in(stranger, educonnect_sp, "mdurand").status_code == 429


def test_login_form_without_csrf_token_is_refused(browser, educonnect_sp):
    login_page(browser, educonnect_sp)
    page = browser.post(
        f"{ATEN}/connexion",
        {"identifiant": "mdurand", "mot_de_passe": DEMO_PASSWORDS["mdurand"]},
        referer=f"{ATEN}/connexion",
    )
    assert page.status_code == 400
    assert "Le formulaire a expiré" in page_text(page)


def test_login_without_a_pending_request_builds_no_response(browser):
    home = browser.get(f"{ATEN}/connexion")
    assert home.status_code == 200
    assert "Aucune demande de connexion" in page_text(home)
    assert 'name="mot_de_passe"' not in home.get_data(as_text=True)


def test_directory_down_gives_service_unavailable_page(
    deployment, sp_metadata_file, ldap_settings, educonnect_sp, tmp_path
):
    down = {
        **ldap_table(ldap_settings),
        "ldap_url": f"ldap://127.0.0.1:{free_port()}",
        "ldap_timeout_seconds": 1,
    }
    app = create_app(aten_settings(deployment, tmp_path / "var", [sp_metadata_file], down), env={})
    page = sign_in(Browser({ATEN: app}), educonnect_sp, "mdurand")
    assert page.status_code == 503
    assert "Service momentanément indisponible" in page_text(page)
    assert "Traceback" not in page.get_data(as_text=True)
    assert app.test_client().get("/readyz", base_url=ATEN).status_code == 503


def test_ready_with_the_ldif_directory(aten_app):
    ready = aten_app.test_client().get("/readyz", base_url=ATEN)
    assert ready.status_code == 200 and ready.get_json()["checks"]["directory"] == "ok"


# ---- refused requests: error page, never a redirect -----------------------------------------


def test_unsigned_request_is_refused(browser, educonnect_sp):
    url = educonnect_sp.authn_url()
    params = {k: v for k, v in query_of(url).items() if k not in ("Signature", "SigAlg")}
    assert_refused(browser.get(with_query(url, params)), "Demande de connexion refusée")


def test_request_built_unsigned_is_refused(browser, educonnect_sp):
    url = educonnect_sp.authn_url(sign=False)
    assert "Signature" not in query_of(url)
    assert_refused(browser.get(url), "Demande de connexion refusée")


def test_signature_of_another_request_is_refused(browser, educonnect_sp):
    first, second = query_of(educonnect_sp.authn_url()), educonnect_sp.authn_url()
    forged = {**query_of(second), "Signature": first["Signature"]}
    assert_refused(browser.get(with_query(second, forged)), "Demande de connexion refusée")


def test_relay_state_changed_after_signing_is_refused(browser, educonnect_sp):
    url = educonnect_sp.authn_url()
    assert_refused(
        browser.get(with_query(url, {**query_of(url), "RelayState": "autre-chose"})),
        "Demande de connexion refusée",
    )


def test_sha1_signature_is_refused(browser, educonnect_sp):
    _, info = educonnect_sp.client.prepare_for_authenticate(
        entityid=ATEN_ENTITY_ID, relay_state="r", sign=True, sigalg=RSA_SHA1
    )
    url = dict(info["headers"])["Location"]
    assert query_of(url)["SigAlg"] == RSA_SHA1
    assert_refused(browser.get(url), "Demande de connexion refusée")


def test_unknown_issuer_is_refused(browser, deployment, aten_metadata_file):
    stranger = EduConnectSp.build(
        deployment, aten_metadata_file, entity_id="https://inconnu.test/saml/sp/metadata"
    )
    assert_refused(browser.get(stranger.authn_url()), "Service inconnu")


def test_foreign_acs_url_is_refused(browser, educonnect_sp):
    url = educonnect_sp.authn_url(assertion_consumer_service_url="https://evil.test/saml/acs")
    assert_refused(browser.get(url), "Demande de connexion refusée")


def test_acs_binding_not_in_metadata_is_refused(browser, educonnect_sp):
    url = educonnect_sp.authn_url(response_binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Artifact")
    assert_refused(browser.get(url), "Demande de connexion refusée")


def test_transient_nameid_policy_is_refused(browser, educonnect_sp):
    url = educonnect_sp.authn_url(nameid_format=NAMEID_FORMAT_TRANSIENT)
    assert_refused(browser.get(url), "Demande de connexion refusée")


@pytest.mark.parametrize("saml_request", ["", "pas du base64 !", "QUJD", "A" * 20000])
def test_garbage_requests_are_refused(browser, saml_request):
    assert_refused(browser.get(with_query(f"{ATEN}/saml/sso", {"SAMLRequest": saml_request})), "refusée")


def test_production_refuses_to_start_without_the_sp_metadata(deployment, tmp_path):
    with pytest.raises(ConfigurationError, match="peer_metadata"):
        create_app(aten_settings(deployment, tmp_path / "var", [], LDIF_TABLE), env={})


def test_a_second_sp_in_metadata_is_also_served(deployment, sp_metadata_file, aten_metadata_file, tmp_path):
    other_md = write_sp_metadata(deployment, tmp_path / "other.xml", entity_id="https://autre.test/saml/sp")
    app = create_app(
        aten_settings(deployment, tmp_path / "var", [sp_metadata_file, other_md], LDIF_TABLE), env={}
    )
    other = EduConnectSp.build(deployment, aten_metadata_file, entity_id="https://autre.test/saml/sp")
    _, fields = post_fields(sign_in(Browser({ATEN: app}), other, "mdurand"))
    assert other.parse(fields["SAMLResponse"]).name_id.sp_name_qualifier == "https://autre.test/saml/sp"
