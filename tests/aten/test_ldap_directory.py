"""The LDAP backend against a real slapd loaded with config/demo/aten.ldif (tests/ldap_server.py)."""

from __future__ import annotations

import dataclasses

import pytest
from ldap3 import Connection, Server

from aten_adapter.directory.ldap_directory import LdapDirectory, uid_filter
from aten_adapter.domain.errors import DirectoryUnavailable
from tests.aten.demo_accounts import DEMO_PASSWORDS
from tests.ldap_server import SERVICE_DN, SERVICE_PASSWORD, free_port


@pytest.fixture(scope="module")
def directory(ldap_settings):
    return LdapDirectory(ldap_settings)


@pytest.mark.parametrize("uid", sorted(DEMO_PASSWORDS))
def test_right_password(directory, uid):
    parent = directory.authenticate(uid, DEMO_PASSWORDS[uid])
    assert parent is not None and parent.uid == uid


@pytest.mark.parametrize("uid", sorted(DEMO_PASSWORDS))
def test_wrong_password(directory, uid):
    assert directory.authenticate(uid, DEMO_PASSWORDS[uid] + "!") is None
    assert directory.authenticate(uid, DEMO_PASSWORDS["mdurand" if uid != "mdurand" else "jdupont"]) is None


def test_empty_password_is_refused_before_any_bind(directory):
    assert directory.authenticate("mdurand", "") is None


def test_unknown_uid(directory):
    assert directory.authenticate("inconnu", DEMO_PASSWORDS["mdurand"]) is None


@pytest.mark.parametrize(
    "injected",
    ["*", "m*", "mdurand)(uid=*", "*)(objectClass=*", "mdurand)(|(uid=*", "mdurand\\2a", "*)(uid=mdurand"],
)
def test_filter_injection_in_the_identifiant_is_refused(directory, injected):
    # Unescaped, each of these would match mdurand (or everyone) and bind with her password.
    assert directory.authenticate(injected, DEMO_PASSWORDS["mdurand"]) is None


def test_uid_filter_escapes_every_special_character():
    assert uid_filter("a*b(c)d\\e\x00") == "(&(objectClass=atenResponsable)(uid=a\\2ab\\28c\\29d\\5ce\\00))"


def test_lookup_is_case_insensitive_like_the_ldif_backend(directory):
    assert directory.authenticate("MDurand", DEMO_PASSWORDS["mdurand"]) is not None


@pytest.mark.parametrize("uid", sorted(DEMO_PASSWORDS))
def test_same_parent_as_the_ldif_backend(directory, ldif_directory, uid):
    from_ldap = directory.authenticate(uid, DEMO_PASSWORDS[uid])
    from_ldif = ldif_directory.authenticate(uid, DEMO_PASSWORDS[uid])
    assert from_ldap == from_ldif  # names, mail, persistent id, every vector in order


def test_service_account_cannot_read_password_hashes(slapd):
    connection = Connection(Server(slapd.url), SERVICE_DN, SERVICE_PASSWORD, auto_bind=True)
    connection.search("dc=ac-poitiers,dc=fr", "(uid=mdurand)", attributes=["userPassword", "sn"])
    (entry,) = [e for e in connection.response if e["type"] == "searchResEntry"]
    assert entry["attributes"]["sn"] == ["Durand"]
    assert not entry["attributes"]["userPassword"]
    connection.unbind()


def test_anonymous_reads_nothing(slapd):
    connection = Connection(Server(slapd.url), auto_bind=True)
    connection.search("dc=ac-poitiers,dc=fr", "(uid=*)", attributes=["uid"])
    assert [e for e in connection.response or [] if e["type"] == "searchResEntry"] == []
    connection.unbind()


def test_wrong_service_password_means_unavailable_not_wrong_parent_password(ldap_settings):
    directory = LdapDirectory(dataclasses.replace(ldap_settings, bind_password="pas-le-bon"))
    with pytest.raises(DirectoryUnavailable):
        directory.authenticate("mdurand", DEMO_PASSWORDS["mdurand"])
    with pytest.raises(DirectoryUnavailable):
        directory.check()


def test_unreachable_server_means_unavailable(ldap_settings):
    down = LdapDirectory(
        dataclasses.replace(ldap_settings, url=f"ldap://127.0.0.1:{free_port()}", timeout_seconds=1)
    )
    with pytest.raises(DirectoryUnavailable):
        down.authenticate("mdurand", DEMO_PASSWORDS["mdurand"])


def test_wrong_base_dn_means_unavailable(ldap_settings):
    directory = LdapDirectory(dataclasses.replace(ldap_settings, base_dn="ou=absent,dc=ac-poitiers,dc=fr"))
    with pytest.raises(DirectoryUnavailable):
        directory.authenticate("mdurand", DEMO_PASSWORDS["mdurand"])


def test_check_passes_on_a_healthy_server(directory):
    directory.check()
