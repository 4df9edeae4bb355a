"""The LDIF reader (RFC 2849) and the LDIF directory backend on the demo file."""

from __future__ import annotations

import base64

import pytest

from aten_adapter.directory.ldif_directory import LdifDirectory
from aten_adapter.directory.ldif_reader import parse_ldif
from aten_adapter.domain.password_hashes import hash_salted
from federation.errors import ConfigurationError
from tests.aten.demo_accounts import DEMO_PASSWORDS
from tests.ldap_server import DEMO_LDIF


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


# ---- reader ---------------------------------------------------------------------------------


def test_reader_unfolds_decodes_base64_and_skips_comments():
    records = parse_ldif(
        "# en-tête\n"
        "version: 1\n"
        "\n"
        "dn: uid=x,ou=parents,dc=ac-poitiers,dc=fr\n"
        "# commentaire dans l'entrée\n"
        "objectClass: inetOrgPerson\n"
        f"givenName:: {b64('Éloïse')}\n"
        "description: une valeur\n"
        "  repliée\n"
        "SN: Le Goff\n"
    )
    assert len(records) == 1
    record = records[0]
    assert record.dn == "uid=x,ou=parents,dc=ac-poitiers,dc=fr"
    assert record.values("givenName") == ["Éloïse"]
    assert record.values("description") == ["une valeur repliée"]
    assert record.values("sn") == ["Le Goff"]  # names are case-insensitive


@pytest.mark.parametrize(
    "text",
    [
        "dn: uid=x,dc=fr\nchangetype: delete\n",
        "dn: uid=x,dc=fr\njpegPhoto:< file:///etc/passwd\n",
        "uid: x\ndn: uid=x,dc=fr\n",
        "dn: uid=x,dc=fr\nsans deux-points\n",
        "dn: uid=x,dc=fr\ngivenName:: pas-du-base64!\n",
    ],
)
def test_reader_refuses_what_it_does_not_support(text):
    with pytest.raises(ConfigurationError):
        parse_ldif(text)


# ---- directory ------------------------------------------------------------------------------


def entry(uid: str, password_value: str, *extra: str, persistent_id: str = "0a1b2c3d") -> str:
    lines = [
        f"dn: uid={uid},ou=parents,dc=ac-poitiers,dc=fr",
        "objectClass: inetOrgPerson",
        "objectClass: atenResponsable",
        f"uid: {uid}",
        "cn: Claire Martin",
        "sn: Martin",
        "givenName: Claire",
        f"userPassword: {password_value}",
        *([f"atenPersistentId: {persistent_id}"] if persistent_id else []),
        *extra,
    ]
    return "\n".join(lines) + "\n\n"


def directory_of(*entries: str) -> LdifDirectory:
    return LdifDirectory.from_records(parse_ldif("".join(entries)))


def test_demo_file_holds_the_five_demo_parents(ldif_directory):
    assert len(ldif_directory) == len(DEMO_PASSWORDS)


@pytest.mark.parametrize("uid", sorted(DEMO_PASSWORDS))
def test_right_password_gives_the_parent(ldif_directory, uid):
    parent = ldif_directory.authenticate(uid, DEMO_PASSWORDS[uid])
    assert parent is not None and parent.uid == uid


@pytest.mark.parametrize("uid", sorted(DEMO_PASSWORDS))
def test_wrong_or_empty_password_gives_nothing(ldif_directory, uid):
    assert ldif_directory.authenticate(uid, DEMO_PASSWORDS[uid] + "!") is None
    assert ldif_directory.authenticate(uid, DEMO_PASSWORDS[uid].upper()) is None
    assert ldif_directory.authenticate(uid, "") is None


def test_another_parents_password_does_not_open_an_account(ldif_directory):
    assert ldif_directory.authenticate("mdurand", DEMO_PASSWORDS["jdupont"]) is None


def test_unknown_uid_gives_nothing(ldif_directory):
    assert ldif_directory.authenticate("inconnu", DEMO_PASSWORDS["mdurand"]) is None
    assert ldif_directory.authenticate("*", DEMO_PASSWORDS["mdurand"]) is None


def test_demo_parent_with_three_children_in_three_establishments(ldif_directory):
    parent = ldif_directory.authenticate("sdalmeida", DEMO_PASSWORDS["sdalmeida"])
    assert (parent.given_name, parent.family_name) == ("Sébastien", "D'Almeida")
    assert parent.mail == "sebastien.dalmeida@example.fr"
    assert [c.value for c in parent.children] == [
        "1|D'ALMEIDA|Sébastien|100004|0171234Z",
        "2|D'ALMEIDA|Sébastien|100005|0790012J",
        "2|D'ALMEIDA|Sébastien|100006|0160045M",
    ]


def test_demo_parent_without_mail_and_with_two_children_in_one_college(ldif_directory):
    parent = ldif_directory.authenticate("elegoff", DEMO_PASSWORDS["elegoff"])
    assert parent.mail is None
    assert {c.uai for c in parent.children} == {"0860034V"}
    assert [c.student_id for c in parent.children] == ["100002", "100003"]


def test_demo_dupont_and_the_unknown_child(ldif_directory):
    dupont = ldif_directory.authenticate("jdupont", DEMO_PASSWORDS["jdupont"])
    assert dupont.family_name == "Dupont" and dupont.given_name.startswith("J")
    bernard = ldif_directory.authenticate("hbernard", DEMO_PASSWORDS["hbernard"])
    assert [c.student_id for c in bernard.children] == ["999999"]


def test_persistent_ids_are_distinct_and_opaque(ldif_directory):
    ids = {uid: ldif_directory.authenticate(uid, pw).persistent_id for uid, pw in DEMO_PASSWORDS.items()}
    assert len(set(ids.values())) == len(ids)
    assert all(uid not in value for uid, value in ids.items())


def test_demo_file_stores_no_clear_text_password():
    text = DEMO_LDIF.read_text()
    body = "\n".join(line for line in text.splitlines() if not line.startswith("#"))
    assert all(password not in body for password in DEMO_PASSWORDS.values())
    assert all(
        line.split(": ", 1)[1].startswith(("{SSHA}", "{SSHA512}"))
        for line in body.splitlines()
        if line.lower().startswith("userpassword:")
    )


def test_uid_lookup_is_case_insensitive_like_ldap():
    directory = directory_of(entry("cmartin", hash_salted("Secret-1")))
    assert directory.authenticate("CMartin", "Secret-1") is not None


@pytest.mark.parametrize(
    "password_value", ["Secret-1", "{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=", "{CLEARTEXT}Secret-1"]
)
def test_a_file_with_a_clear_or_unsalted_password_does_not_load(password_value):
    with pytest.raises(ConfigurationError, match="uid=cmartin"):
        directory_of(entry("cmartin", password_value))


def test_an_entry_without_persistent_id_does_not_load():
    with pytest.raises(ConfigurationError, match="atenPersistentId"):
        directory_of(entry("cmartin", hash_salted("Secret-1"), persistent_id=""))


def test_a_duplicate_uid_does_not_load():
    with pytest.raises(ConfigurationError, match="double"):
        directory_of(entry("cmartin", hash_salted("a-1234")), entry("CMARTIN", hash_salted("b-1234")))


def test_entries_without_the_parent_class_are_not_accounts():
    service = (
        "dn: cn=aten-adapter,ou=services,dc=ac-poitiers,dc=fr\nobjectClass: applicationProcess\n"
        f"objectClass: simpleSecurityObject\ncn: aten-adapter\nuserPassword: {hash_salted('S-1234')}\n\n"
    )
    directory = directory_of(service)
    assert len(directory) == 0
    assert directory.authenticate("aten-adapter", "S-1234") is None


def test_malformed_vector_is_not_released_but_the_parent_signs_in():
    directory = directory_of(
        entry(
            "cmartin",
            hash_salted("Secret-1"),
            "FrEduVecteur: 1|MARTIN|Claire|100010|0861001W",
            "FrEduVecteur: 2|MARTIN|Claire|100011|0861001A",
        )
    )
    parent = directory.authenticate("cmartin", "Secret-1")
    assert parent is not None
    assert [c.value for c in parent.children] == ["1|MARTIN|Claire|100010|0861001W"]
