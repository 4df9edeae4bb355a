"""What ÉduConnect (toward the ENTs) and ATEN (toward ÉduConnect) share as SAML IdPs.

Rules (DESIGN §5):

* an AuthnRequest arrives by HTTP-Redirect (SAML bindings §3.4), at most 16 KiB encoded and
  64 KiB inflated, without DOCTYPE, and must be signed (§3.4.4.1) with RSA-SHA256 or better by a
  key of the requesting SP's metadata;
* the ACS URL and the binding come from that metadata only (exact match, SAML core §3.4.1); an
  unknown issuer, a foreign ACS URL or another binding gets an error page, never a redirect;
* the IssueInstant is fresh (pysaml2 tolerates a day and only logs);
* the Response goes back by HTTP-POST (bindings §3.5), Response and Assertion both signed
  RSA-SHA256 / SHA-256, with a persistent NameID (SAML core §8.3.7) qualified by our entity ID
  (NameQualifier) and the SP's (SPNameQualifier).
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import zlib
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT
from saml2.s_utils import UnknownPrincipal, UnsupportedBinding
from saml2.saml import NAMEID_FORMAT_PERSISTENT, NAMEID_FORMAT_UNSPECIFIED, NameID
from saml2.samlp import authn_request_from_string
from saml2.server import Server
from saml2.sigver import SignatureError
from saml2.time_util import str_to_time

from federation.errors import ProtocolError, UnknownPartner
from federation.saml import MAX_REDIRECT_MESSAGE_CHARS, service_block
from federation.settings import Settings

AUTHN_CONTEXT_CLASS = "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport"
ACCEPTED_SIGALGS = frozenset(
    {
        "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
        "http://www.w3.org/2001/04/xmldsig-more#rsa-sha384",
        "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512",
    }
)
ACCEPTED_NAMEID_FORMATS = (None, NAMEID_FORMAT_PERSISTENT, NAMEID_FORMAT_UNSPECIFIED)
MAX_REQUEST_AGE = dt.timedelta(minutes=10)
MAX_INFLATED_BYTES = 64 * 1024


@dataclass(frozen=True)
class AuthenticationRequest:
    """A verified AuthnRequest, in neutral terms (kept in the session until answered)."""

    request_id: str
    sp_entity_id: str
    acs_url: str
    relay_state: str | None
    force_authn: bool = False
    requested_idps: tuple[str, ...] = ()  # <samlp:Scoping><samlp:IDPList> (SAML core §3.4.1.2)

    @classmethod
    def from_session(cls, data: Mapping[str, Any]) -> AuthenticationRequest:
        return cls(**{**data, "requested_idps": tuple(data.get("requested_idps", ()))})


@dataclass(frozen=True)
class PostForm:
    """What the HTTP-POST binding page must submit, and where."""

    action: str
    fields: dict[str, str]


def idp_service_block(settings: Settings, title: str) -> dict[str, dict[str, object]]:
    return {
        "idp": service_block(
            name=title,
            endpoints={"single_sign_on_service": [(f"{settings.base_url}/saml/sso", BINDING_HTTP_REDIRECT)]},
            want_authn_requests_signed=True,
            sign_response=True,
            sign_assertion=True,
            policy={
                "default": {
                    "lifetime": {"minutes": 5},
                    "name_form": "urn:oasis:names:tc:SAML:2.0:attrname-format:uri",
                }
            },
        )
    }


def inflate_redirect_message(encoded: str) -> bytes:
    """base64 + DEFLATE (SAML bindings §3.4.4.1), inflated to at most MAX_INFLATED_BYTES and
    refused with a DOCTYPE (DESIGN §5): checked here before pysaml2 inflates it again."""
    try:
        deflated = base64.b64decode(encoded, validate=True)
        inflater = zlib.decompressobj(-zlib.MAX_WBITS)
        xml = inflater.decompress(deflated, MAX_INFLATED_BYTES)
    except (binascii.Error, ValueError, zlib.error) as exc:
        raise ProtocolError(f"undecodable AuthnRequest: {exc}") from exc
    if inflater.unconsumed_tail:
        raise ProtocolError("AuthnRequest inflates beyond the size cap")
    if b"<!DOCTYPE" in xml or b"<!ENTITY" in xml:
        raise ProtocolError("DOCTYPE in AuthnRequest")
    return xml


class IdentityProviderCore:
    """Request checks and signed answers around one pysaml2 Server (built once per process)."""

    def __init__(self, server: Server, known_sps: Collection[str], skew: dt.timedelta) -> None:
        self.server = server
        self.entity_id: str = server.config.entityid
        self.known_sps = frozenset(known_sps)
        self.skew = skew

    def parse_redirect_request(self, args: Mapping[str, str], now: dt.datetime) -> AuthenticationRequest:
        saml_request = args.get("SAMLRequest", "")
        if not saml_request or len(saml_request) > MAX_REDIRECT_MESSAGE_CHARS:
            raise ProtocolError("SAMLRequest absent or too large")
        issuer = self._peek_issuer(saml_request)
        if issuer not in self.known_sps:
            raise UnknownPartner(f"issuer {issuer!r} not registered")
        sigalg = args.get("SigAlg")
        if sigalg not in ACCEPTED_SIGALGS or not args.get("Signature"):
            raise ProtocolError(f"AuthnRequest unsigned or SigAlg {sigalg} refused")
        try:
            parsed = self.server.parse_authn_request(
                saml_request,
                BINDING_HTTP_REDIRECT,
                relay_state=args.get("RelayState"),
                sigalg=sigalg,
                signature=args.get("Signature"),
            )
        except Exception as exc:  # pysaml2 raises many unrelated types for a bad request
            raise ProtocolError(f"AuthnRequest refused: {type(exc).__name__}: {exc}") from exc
        if parsed is None or parsed.message is None:
            raise ProtocolError("AuthnRequest refused")
        message = parsed.message
        self._check_issue_instant(message.issue_instant, now)
        if message.protocol_binding not in (None, BINDING_HTTP_POST):
            raise ProtocolError(f"ProtocolBinding {message.protocol_binding} not offered")
        policy = message.name_id_policy
        if policy is not None and policy.format not in ACCEPTED_NAMEID_FORMATS:
            raise ProtocolError(f"NameIDPolicy {policy.format} not offered (persistent only)")
        try:
            _, acs_url = self.server.pick_binding(
                "assertion_consumer_service", [BINDING_HTTP_POST], request=message
            )
        except Exception as exc:
            raise ProtocolError(f"ACS not in metadata of {issuer}: {exc}") from exc
        return AuthenticationRequest(
            request_id=message.id,
            sp_entity_id=issuer,
            acs_url=acs_url,
            relay_state=args.get("RelayState"),
            force_authn=message.force_authn in ("true", "1"),
            requested_idps=_requested_idps(message),
        )

    def build_response(
        self,
        request: AuthenticationRequest,
        subject: str,
        attributes: Mapping[str, list[str]],
        authn_instant: dt.datetime,
    ) -> PostForm:
        """A signed Response with a signed Assertion carrying a persistent, qualified NameID."""
        name_id = NameID(
            format=NAMEID_FORMAT_PERSISTENT,
            name_qualifier=self.entity_id,
            sp_name_qualifier=request.sp_entity_id,
            text=subject,
        )
        try:
            response = self.server.create_authn_response(
                {name: list(values) for name, values in attributes.items()},
                in_response_to=request.request_id,
                destination=request.acs_url,
                sp_entity_id=request.sp_entity_id,
                name_id=name_id,
                sign_response=True,
                sign_assertion=True,
                authn={"class_ref": AUTHN_CONTEXT_CLASS, "authn_instant": int(authn_instant.timestamp())},
            )
        except (UnknownPrincipal, UnsupportedBinding, SignatureError) as exc:
            raise ProtocolError(f"response not built: {exc}") from exc
        fields = {"SAMLResponse": base64.b64encode(str(response).encode()).decode()}
        if request.relay_state:
            fields["RelayState"] = request.relay_state
        return PostForm(action=request.acs_url, fields=fields)

    def _peek_issuer(self, saml_request: str) -> str:
        """Issuer before verification, only to tell "unknown partner" from "bad signature"."""
        xml = inflate_redirect_message(saml_request)
        try:
            message = authn_request_from_string(xml)
        except Exception as exc:
            raise ProtocolError(f"undecodable AuthnRequest: {exc}") from exc
        if message is None or message.issuer is None or not message.issuer.text:
            raise ProtocolError("AuthnRequest without Issuer")
        return str(message.issuer.text).strip()

    def _check_issue_instant(self, issue_instant: str, now: dt.datetime) -> None:
        year, month, day, hour, minute, second = str_to_time(issue_instant)[:6]
        issued = dt.datetime(year, month, day, hour, minute, second, tzinfo=dt.UTC)
        if not now - MAX_REQUEST_AGE - self.skew <= issued <= now + self.skew:
            raise ProtocolError(f"IssueInstant {issue_instant} outside the accepted window")


def _requested_idps(message: object) -> tuple[str, ...]:
    scoping = getattr(message, "scoping", None)
    idp_list = getattr(scoping, "idp_list", None) if scoping else None
    entries = getattr(idp_list, "idp_entry", None) or []
    return tuple(entry.provider_id for entry in entries if entry.provider_id)
