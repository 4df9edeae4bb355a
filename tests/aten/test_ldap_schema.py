"""config/ldap/: the schema in both forms, the ACL, the demo LDIF against the schema."""

from __future__ import annotations

import re
import subprocess

import pytest
from ldap3 import Connection, Server

from aten_adapter.directory.ldif_reader import read_ldif
from tests.ldap_server import ACL_LDIF, DEMO_LDIF, LDAP_CONFIG, SYSTEM_SCHEMA_DIR, find_tool

SCHEMA_FILE = LDAP_CONFIG / "schema" / "aten.schema"
SCHEMA_LDIF = LDAP_CONFIG / "schema" / "aten.ldif"


def _normalised(definition: str) -> str:
    return " ".join(definition.replace("(", " ( ").replace(")", " ) ").split())


def definitions_of_schema_file() -> list[str]:
    text = "\n".join(line for line in SCHEMA_FILE.read_text().splitlines() if not line.startswith("#"))
    blocks = re.findall(r"^(attributetype|objectclass)\s+(\(.*?\n?\s*\))\s*$", text, flags=re.M | re.S | re.I)
    return [_normalised(body) for _, body in blocks]


def definitions_of_schema_ldif() -> list[str]:
    (record,) = read_ldif(SCHEMA_LDIF)
    return [_normalised(v) for v in record.values("olcAttributeTypes") + record.values("olcObjectClasses")]


def test_both_schema_files_define_the_same_things():
    from_file, from_ldif = definitions_of_schema_file(), definitions_of_schema_ldif()
    assert len(from_file) == 3
    assert from_file == from_ldif


def test_oids_sit_under_the_educonnect_arc():
    oids = [d.split()[1] for d in definitions_of_schema_file()]
    assert all(oid.startswith("1.3.6.1.4.1.20326.10.999.1.") for oid in oids)
    assert len(set(oids)) == len(oids)


def test_slaptest_accepts_the_slapd_conf_form(tmp_path):
    conf = tmp_path / "slapd.conf"
    includes = [SYSTEM_SCHEMA_DIR / f"{n}.schema" for n in ("core", "cosine", "inetorgperson")] + [
        SCHEMA_FILE
    ]
    conf.write_text("".join(f"include {path}\n" for path in includes))
    result = subprocess.run(
        [find_tool("slaptest"), "-u", "-f", str(conf)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr


def test_demo_ldif_was_loaded_by_slapadd_with_schema_checks(slapd):
    """slapadd checked every entry of the demo file against the schema (tests/ldap_server.py)."""
    connection = Connection(Server(slapd.url), slapd.root_dn, slapd.root_password, auto_bind=True)
    connection.search(
        "ou=parents,dc=ac-poitiers,dc=fr",
        "(&(objectClass=inetOrgPerson)(objectClass=atenResponsable))",
        attributes=["uid"],
    )
    uids = sorted(e["attributes"]["uid"][0] for e in connection.response if e["type"] == "searchResEntry")
    connection.unbind()
    assert uids == ["elegoff", "hbernard", "jdupont", "mdurand", "sdalmeida"]


def test_directory_refuses_an_entry_without_persistent_id(slapd):
    connection = Connection(Server(slapd.url), slapd.root_dn, slapd.root_password, auto_bind=True)
    added = connection.add(
        "uid=sansid,ou=parents,dc=ac-poitiers,dc=fr",
        ["inetOrgPerson", "atenResponsable"],
        {"uid": "sansid", "cn": "Sans Id", "sn": "Id"},
    )
    assert not added and connection.result["description"] == "objectClassViolation"
    connection.unbind()


@pytest.mark.parametrize("path", [DEMO_LDIF, SCHEMA_LDIF, ACL_LDIF])
def test_config_files_are_utf8_without_tabs_in_ldif(path):
    assert "\t" not in path.read_text(encoding="utf-8")
