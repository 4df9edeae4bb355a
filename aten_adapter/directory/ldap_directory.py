"""The ATEN directory on a real LDAP server (OpenLDAP), through ldap3.

Bind strategy: *search, then bind as the entry found*.

1. The adapter's service account (``ldap_bind_dn``, read-only on the parents, see the ACL in
   config/ldap/acl/) searches ``ldap_base_dn`` for
   ``(&(objectClass=atenResponsable)(uid=<identifiant>))`` with the identifiant escaped
   (RFC 4515 §3, ldap3 ``escape_filter_chars``) and a size limit of 2: exactly one entry, or the
   login fails; never "the first of several".
2. A *fresh* connection makes a simple bind (RFC 4513 §5.1.3) as that entry's DN with the typed
   password, and is closed at once. slapd checks the ``{SSHA}`` value; the adapter never reads a
   hash (the ACL lets ``userPassword`` be used for ``auth`` only).

Why this one: the DN comes from the directory, never from what the parent typed (no DN
injection, any tree layout works); the hash check stays in the server, whatever scheme it
holds; a separate connection keeps the service identity and the parent's apart. The attributes
released are those the service account read in step 1.

An empty password is refused before any bind: with a DN and no password a simple bind is an
*unauthenticated* bind (RFC 4513 §5.1.2) that many servers answer with success.
"""

from __future__ import annotations

import logging
import ssl
from typing import Any

from ldap3 import NONE, SUBTREE, Connection, Server, Tls
from ldap3.core.exceptions import LDAPException
from ldap3.utils.conv import escape_filter_chars

from aten_adapter.directory.entries import PARENT_ATTRIBUTES, PARENT_OBJECT_CLASS, parent_from_entry
from aten_adapter.domain.errors import DirectoryUnavailable
from aten_adapter.domain.parents import Parent
from aten_adapter.settings import LdapSettings

log = logging.getLogger("educonnect.aten")

RESULT_SUCCESS = 0
RESULT_SIZE_LIMIT_EXCEEDED = 4
RESULT_INVALID_CREDENTIALS = 49


def uid_filter(uid: str) -> str:
    return f"(&(objectClass={PARENT_OBJECT_CLASS})(uid={escape_filter_chars(uid)}))"


class LdapDirectory:
    """Built once per process; every login opens its own short connections (thread-safe)."""

    def __init__(self, settings: LdapSettings) -> None:
        self.settings = settings
        tls = None
        if settings.is_encrypted:
            ca_file = str(settings.ca_file) if settings.ca_file else None
            tls = Tls(validate=ssl.CERT_REQUIRED, ca_certs_file=ca_file)
        self.server = Server(settings.url, get_info=NONE, connect_timeout=settings.timeout_seconds, tls=tls)

    def authenticate(self, uid: str, password: str) -> Parent | None:
        if not uid or not password:
            return None
        found = self._find(uid)
        if found is None:
            return None
        dn, attributes = found
        if not self._bind_as(dn, password):
            return None
        return parent_from_entry(dn, attributes)

    def check(self) -> None:
        connection = self._service_connection()
        connection.unbind()

    def _find(self, uid: str) -> tuple[str, dict[str, list[str]]] | None:
        connection = self._service_connection()
        try:
            connection.search(
                self.settings.base_dn,
                uid_filter(uid),
                search_scope=SUBTREE,
                attributes=list(PARENT_ATTRIBUTES),
                size_limit=2,
            )
            result, response = dict(connection.result or {}), list(connection.response or [])
        except LDAPException as exc:
            raise DirectoryUnavailable(f"LDAP search failed: {exc}") from exc
        finally:
            connection.unbind()  # clears result and response: read above
        if result.get("result") not in (RESULT_SUCCESS, RESULT_SIZE_LIMIT_EXCEEDED):
            raise DirectoryUnavailable(f"LDAP search refused: {result.get('description')}")
        entries = [e for e in response if e.get("type") == "searchResEntry"]
        if len(entries) != 1:
            if entries:
                log.warning("uid %r matches %d ATEN entries: login refused", uid, len(entries))
            return None
        return entries[0]["dn"], _decoded(entries[0]["raw_attributes"])

    def _bind_as(self, dn: str, password: str) -> bool:
        connection = self._connection(dn, password)
        try:
            self._open(connection)
            is_bound = connection.bind()
            result = dict(connection.result or {})
        except LDAPException as exc:
            raise DirectoryUnavailable(f"LDAP bind as parent failed: {exc}") from exc
        finally:
            connection.unbind()
        if not is_bound and result.get("result") != RESULT_INVALID_CREDENTIALS:
            # e.g. a locked account (ppolicy): still a failed login, worth a line for the académie.
            log.warning("LDAP bind of %s refused: %s", dn, result.get("description"))
        return bool(is_bound)

    def _service_connection(self) -> Connection:
        connection = self._connection(self.settings.bind_dn, self.settings.bind_password)
        try:
            self._open(connection)
            is_bound = connection.bind()
        except LDAPException as exc:
            connection.unbind()
            raise DirectoryUnavailable(f"LDAP server unreachable: {exc}") from exc
        except DirectoryUnavailable:
            connection.unbind()
            raise
        if not is_bound:
            description = (connection.result or {}).get("description")
            connection.unbind()
            raise DirectoryUnavailable(f"LDAP service bind refused: {description}")
        return connection

    def _connection(self, user: str, password: str) -> Connection:
        return Connection(
            self.server,
            user=user,
            password=password,
            read_only=True,
            receive_timeout=self.settings.timeout_seconds,
            raise_exceptions=False,
        )

    def _open(self, connection: Connection) -> None:
        connection.open()
        if self.settings.start_tls and not connection.start_tls():
            raise DirectoryUnavailable("LDAP StartTLS refused")


def _decoded(raw_attributes: dict[str, Any]) -> dict[str, list[str]]:
    """Values as text: the attributes read are all UTF-8 strings (RFC 4517 Directory String)."""
    return {
        name: [v.decode("utf-8") if isinstance(v, bytes) else str(v) for v in values]
        for name, values in raw_attributes.items()
    }
