"""ÉduConnect as a SAML IdP toward the ENTs: translates AuthnRequests and Responses only.

Rules (DESIGN §5): requests must be signed by a key in the SP's metadata; the ACS URL and the
binding come from that metadata only (exact match); unknown issuers are refused without any
redirect. Responses and assertions are both signed with RSA-SHA256 / SHA-256.
"""

from __future__ import annotations

import base64
import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT
from saml2.s_utils import UnknownPrincipal, UnsupportedBinding
from saml2.saml import NAMEID_FORMAT_PERSISTENT, NameID
from saml2.samlp import authn_request_from_string
from saml2.server import Server
from saml2.sigver import SignatureError
from saml2.time_util import str_to_time

from federation.errors import ProtocolError, UnknownPartner
from federation.saml import MAX_REDIRECT_MESSAGE_CHARS, build_config, metadata_xml, service_block
from federation.settings import ServiceProvider, Settings

AUTHN_CONTEXT_CLASS = "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport"
# Redirect-binding signature algorithms we accept (SAML bindings §3.4.4.1): SHA-1 is refused.
ACCEPTED_SIGALGS = frozenset(
    {
        "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
        "http://www.w3.org/2001/04/xmldsig-more#rsa-sha384",
        "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512",
    }
)
MAX_REQUEST_AGE = dt.timedelta(minutes=10)


@dataclass(frozen=True)
class AuthenticationRequest:
    """A verified AuthnRequest, in neutral terms (kept in the session until answered)."""

    request_id: str
    sp_entity_id: str
    acs_url: str
    relay_state: str | None
    force_authn: bool
    requested_idps: tuple[str, ...] = ()  # <samlp:Scoping><samlp:IDPList> (SAML core §3.4.1.2)


@dataclass(frozen=True)
class PostForm:
    """What the HTTP-POST binding page must submit, and where."""

    action: str
    fields: dict[str, str]


def idp_services(settings: Settings) -> dict[str, dict[str, object]]:
    base = settings.base_url
    return {
        "idp": service_block(
            name="ÉduConnect",
            endpoints={
                "single_sign_on_service": [(f"{base}/saml/sso", BINDING_HTTP_REDIRECT)],
            },
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


class SamlIdentityProvider:
    """Built once per process: the pysaml2 Server parses metadata and keys at construction."""

    def __init__(self, settings: Settings, clock_skew: dt.timedelta | None = None) -> None:
        self.settings = settings
        config = build_config(
            settings,
            idp_services(settings),
            metadata_files=[p.metadata for p in settings.service_providers],
            name="ÉduConnect",
        )
        self.server = Server(config=config)
        self.providers = _providers_by_entity_id(self.server, settings)
        self.metadata = metadata_xml(config)
        self.skew = clock_skew or dt.timedelta(seconds=settings.clock_skew_seconds)
        self.logout_url = f"{settings.base_url}/deconnexion"

    def parse_redirect_request(self, args: Mapping[str, str], now: dt.datetime) -> AuthenticationRequest:
        saml_request = args.get("SAMLRequest", "")
        if not saml_request or len(saml_request) > MAX_REDIRECT_MESSAGE_CHARS:
            raise ProtocolError("SAMLRequest absent or too large")
        issuer = self._peek_issuer(saml_request)
        if issuer not in self.providers:
            raise UnknownPartner(f"issuer {issuer!r} not registered")
        sigalg = args.get("SigAlg")
        if sigalg is not None and sigalg not in ACCEPTED_SIGALGS:
            raise ProtocolError(f"SigAlg {sigalg} refused")
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
        message = parsed.message
        self._check_issue_instant(message.issue_instant, now)
        if message.protocol_binding not in (None, BINDING_HTTP_POST):
            raise ProtocolError(f"ProtocolBinding {message.protocol_binding} not offered")
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
        """A signed Response with a signed Assertion, released attributes only (DESIGN §4)."""
        provider = self.providers[request.sp_entity_id]
        identity = {name: list(values) for name, values in attributes.items() if name in provider.attributes}
        name_id = NameID(
            format=NAMEID_FORMAT_PERSISTENT,
            name_qualifier=self.server.config.entityid,
            sp_name_qualifier=request.sp_entity_id,
            text=subject,
        )
        try:
            response = self.server.create_authn_response(
                identity,
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
        try:
            xml = self.server.unravel(saml_request, BINDING_HTTP_REDIRECT, "authn_request")
            message = authn_request_from_string(xml)
        except Exception as exc:
            raise ProtocolError(f"undecodable AuthnRequest: {exc}") from exc
        if message is None or message.issuer is None or not message.issuer.text:
            raise ProtocolError("AuthnRequest without Issuer")
        return str(message.issuer.text).strip()

    def _check_issue_instant(self, issue_instant: str, now: dt.datetime) -> None:
        # pysaml2 tolerates a day either way and only logs; a login request is fresh or useless.
        year, month, day, hour, minute, second = str_to_time(issue_instant)[:6]
        issued = dt.datetime(year, month, day, hour, minute, second, tzinfo=dt.UTC)
        if not now - MAX_REQUEST_AGE - self.skew <= issued <= now + self.skew:
            raise ProtocolError(f"IssueInstant {issue_instant} outside the accepted window")


def _requested_idps(message: object) -> tuple[str, ...]:
    scoping = getattr(message, "scoping", None)
    idp_list = getattr(scoping, "idp_list", None) if scoping else None
    entries = getattr(idp_list, "idp_entry", None) or []
    return tuple(entry.provider_id for entry in entries if entry.provider_id)


def _providers_by_entity_id(server: Server, settings: Settings) -> dict[str, ServiceProvider]:
    """Entity IDs of each registered SP, read from the metadata pysaml2 already parsed (by file)."""
    providers: dict[str, ServiceProvider] = {}
    for provider in settings.service_providers:
        for entity_id, _ in server.metadata.metadata[str(provider.metadata)].items():
            providers[entity_id] = provider
    return providers
