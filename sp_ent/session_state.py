"""What the ENT keeps in a browser's session, typed: the signed-in parent, the chosen
establishment, the OpenID Connect ID token (for RP-initiated logout).

The stored form (JSON in the server-side session) keeps the keys it had before these types, so
sessions open during a deployment stay valid. Pending requests are kept beside these keys by
``federation.pending_requests``. No flask here: ``load`` and ``save`` take the session mapping.
"""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping
from dataclasses import asdict, dataclass
from typing import Any

from federation.saml_logout import SessionSubject
from federation.session_values import put_session_value

PARENT_KEY = "parent"
ESTABLISHMENT_KEY = "etablissement"
ID_TOKEN_KEY = "oidc_id_token"  # noqa: S105 - a session key
SAML_SESSION_KEY = "saml_session"


@dataclass(frozen=True)
class SignedInParent:
    """The parent as ÉduConnect released them, by SAML assertion or by OpenID Connect userinfo:
    attributes under their SAML names (DESIGN §4)."""

    subject: str  # the pairwise NameID / ``sub`` this ENT knows the parent by
    given_name: str
    family_name: str
    attributes: dict[str, list[str]]

    def first(self, name: str) -> str:
        values = self.attributes.get(name) or [""]
        return values[0]


@dataclass
class EntSession:
    parent: SignedInParent | None = None
    establishment: str | None = None  # the UAI last opened, checked again at each use
    oidc_id_token: str | None = None
    saml_session: SessionSubject | None = None  # NameID and SessionIndex: the LogoutRequest names them

    @classmethod
    def load(cls, session: Mapping[str, Any]) -> EntSession:
        raw = session.get(PARENT_KEY)
        parent = None
        if isinstance(raw, dict):
            parent = SignedInParent(
                subject=str(raw["subject"]),
                given_name=str(raw["given_name"]),
                family_name=str(raw["family_name"]),
                attributes={str(k): [str(v) for v in values] for k, values in raw["attributes"].items()},
            )
        return cls(
            parent=parent,
            establishment=_text(session.get(ESTABLISHMENT_KEY)),
            oidc_id_token=_text(session.get(ID_TOKEN_KEY)),
            saml_session=_saml_session(session.get(SAML_SESSION_KEY)),
        )

    def save(self, session: MutableMapping[str, Any]) -> None:
        """Write what changed only: an unchanged session costs no store write."""
        put_session_value(session, PARENT_KEY, asdict(self.parent) if self.parent else None)
        put_session_value(session, ESTABLISHMENT_KEY, self.establishment)
        put_session_value(session, ID_TOKEN_KEY, self.oidc_id_token)
        put_session_value(session, SAML_SESSION_KEY, asdict(self.saml_session) if self.saml_session else None)


def _saml_session(value: object) -> SessionSubject | None:
    if not isinstance(value, dict):
        return None
    try:
        return SessionSubject(**value)
    except TypeError:
        return None


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None
