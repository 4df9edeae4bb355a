"""The embedded ATEN directory: parent entries of an LDIF file, loaded once per process.

Passwords are verified here (``{SSHA}`` family, constant-time compare): the file must hold
salted hashes only, and an entry with anything else (clear text, unsalted ``{SHA}``) stops the
start-up naming its DN. The file is the same one slapd and the OpenLDAP container load.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from aten_adapter.directory.entries import PARENT_OBJECT_CLASS, parent_from_entry
from aten_adapter.directory.ldif_reader import LdifRecord, read_ldif
from aten_adapter.domain.parents import Parent
from aten_adapter.domain.password_hashes import DUMMY_HASH, is_supported_hash, verify_salted_hash
from federation.errors import ConfigurationError, FederationError


@dataclass(frozen=True)
class _Account:
    parent: Parent
    password_hashes: tuple[str, ...]


class LdifDirectory:
    def __init__(self, accounts: dict[str, _Account]) -> None:
        self._accounts = accounts

    @classmethod
    def from_file(cls, path: Path) -> LdifDirectory:
        return cls.from_records(read_ldif(path), source=str(path))

    @classmethod
    def from_records(cls, records: list[LdifRecord], source: str = "<ldif>") -> LdifDirectory:
        accounts: dict[str, _Account] = {}
        for record in records:
            classes = {c.lower() for c in record.values("objectClass")}
            if PARENT_OBJECT_CLASS.lower() not in classes:
                continue  # the base, the OUs, the adapter's service account
            account = _account(record, source)
            key = account.parent.uid.lower()
            if key in accounts:
                raise ConfigurationError(f"{source}:{record.line}: uid {key} en double")
            accounts[key] = account
        return cls(accounts)

    def authenticate(self, uid: str, password: str) -> Parent | None:
        account = self._accounts.get(uid.lower())
        if account is None:
            verify_salted_hash(DUMMY_HASH, password)  # same work as for a known uid
            return None
        # Like slapd: any of the stored values may match; each one is checked.
        matches = [verify_salted_hash(stored, password) for stored in account.password_hashes]
        return account.parent if any(matches) else None

    def check(self) -> None:
        """Always ready: the entries were read at start."""

    def __len__(self) -> int:
        return len(self._accounts)


def _account(record: LdifRecord, source: str) -> _Account:
    where = f"{source}:{record.line} ({record.dn})"
    hashes = tuple(record.values("userPassword"))
    if not hashes:
        raise ConfigurationError(f"{where}: userPassword manquant")
    if not all(is_supported_hash(h) for h in hashes):
        raise ConfigurationError(f"{where}: userPassword doit être un hachage {{SSHA}} ou {{SSHA512}}")
    try:
        parent = parent_from_entry(record.dn, record.attributes)
    except FederationError as exc:
        raise ConfigurationError(f"{where}: {exc.detail}") from exc
    return _Account(parent=parent, password_hashes=hashes)
