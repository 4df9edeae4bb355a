"""SAML Single Logout messages (SAML core §3.7, profiles §4.4), for ÉduConnect (the session
authority) and the ENT (a session participant) alike.

Incoming LogoutRequests are checked like AuthnRequests (DESIGN §5): size capped before inflate or
parse, no DOCTYPE, an issuer of our metadata, signed by a key of that metadata (HTTP-Redirect:
``SigAlg`` RSA-SHA256 or better over the query, SAML bindings §3.4.4.1; HTTP-POST: an enveloped
XML signature, §3.5.5.2), Destination naming our endpoint, IssueInstant in the window (and
``NotOnOrAfter`` not past), the ID consumed once. LogoutResponses get the same checks, and the
caller matches ``InResponseTo`` with a request it sent. Which session a request ends (NameID and
SessionIndex) is the caller's decision. Outgoing messages are signed and go by HTTP-Redirect when
the peer's metadata offers it, otherwise by HTTP-POST (our own form page).
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
from collections.abc import Collection, Mapping
from dataclasses import dataclass

from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT
from saml2.entity import Entity
from saml2.s_utils import UnsupportedBinding, status_message_factory, success_status_factory
from saml2.saml import NameID
from saml2.samlp import STATUS_PARTIAL_LOGOUT, STATUS_SUCCESS, LogoutResponse
from saml2.sigver import verify_redirect_signature
from saml2.time_util import str_to_time

from federation.errors import ProtocolError, UnknownPartner
from federation.saml import MAX_REDIRECT_MESSAGE_CHARS, SIGNING_ALGORITHM
from federation.saml_idp import (
    ACCEPTED_SIGALGS,
    MAX_REQUEST_AGE,
    check_same_issuer,
    inflate_redirect_message,
    issuer_text,
)
from federation.saml_response import MAX_POST_MESSAGE_CHARS
from federation.stores import KeyValueStore, consume_once
from federation.xml_security import SAMLP_NS, XmlSecurityError, parse_xml

SLO_BINDINGS = (BINDING_HTTP_REDIRECT, BINDING_HTTP_POST)
DSIG_NS = "http://www.w3.org/2000/09/xmldsig#"
REPLAY_SCOPE = "slo"
__all__ = ["STATUS_PARTIAL_LOGOUT", "STATUS_SUCCESS"]


@dataclass(frozen=True)
class IncomingMessage:
    """A SAML message as it came: its binding, its kind and its transport fields."""

    binding: str
    kind: str  # "SAMLRequest" or "SAMLResponse"
    encoded: str
    relay_state: str | None = None
    sigalg: str | None = None
    signature: str | None = None

    @classmethod
    def from_http(cls, method: str, args: Mapping[str, str], form: Mapping[str, str]) -> IncomingMessage:
        fields, binding = (form, BINDING_HTTP_POST) if method == "POST" else (args, BINDING_HTTP_REDIRECT)
        for kind in ("SAMLRequest", "SAMLResponse"):
            if fields.get(kind):
                return cls(
                    binding=binding,
                    kind=kind,
                    encoded=fields[kind],
                    relay_state=fields.get("RelayState"),
                    sigalg=fields.get("SigAlg") if binding == BINDING_HTTP_REDIRECT else None,
                    signature=fields.get("Signature") if binding == BINDING_HTTP_REDIRECT else None,
                )
        raise ProtocolError("neither SAMLRequest nor SAMLResponse")


@dataclass(frozen=True)
class SessionSubject:
    """Whom a LogoutRequest names: the NameID (with its qualifiers) and the SessionIndex."""

    name_id: str
    session_index: str
    name_format: str = ""
    name_qualifier: str = ""
    sp_name_qualifier: str = ""

    def saml_name_id(self) -> NameID:
        return NameID(
            text=self.name_id,
            format=self.name_format or None,
            name_qualifier=self.name_qualifier or None,
            sp_name_qualifier=self.sp_name_qualifier or None,
        )


@dataclass(frozen=True)
class VerifiedLogoutRequest:
    request_id: str
    issuer: str
    name_id: str
    session_indexes: tuple[str, ...]
    relay_state: str | None

    def names(self, subject: SessionSubject) -> bool:
        """SAML core §3.7.3.2: this request is about that NameID and that session."""
        return self.name_id == subject.name_id and subject.session_index in self.session_indexes


@dataclass(frozen=True)
class VerifiedLogoutResponse:
    issuer: str
    in_response_to: str
    status: str
    second_status: str | None

    @property
    def is_complete(self) -> bool:
        """Success, without PartialLogout (SAML core §3.2.2.2)."""
        return self.status == STATUS_SUCCESS and self.second_status != STATUS_PARTIAL_LOGOUT


@dataclass(frozen=True)
class OutgoingMessage:
    """A signed message for the browser: a redirect URL, or a form to POST."""

    message_id: str
    binding: str
    url: str  # with HTTP-Redirect: the whole signed URL
    fields: dict[str, str]  # with HTTP-POST: what the form submits


class SingleLogout:
    """The SLO side of one pysaml2 entity (an IdP ``Server`` or an SP ``Saml2Client``)."""

    def __init__(
        self,
        entity: Entity,
        peers: Collection[str],
        peer_type: str,  # "spsso" (we are the IdP) or "idpsso"
        endpoint_url: str,
        skew: dt.timedelta,
        store: KeyValueStore,
        replay_ttl_seconds: int,
    ) -> None:
        self.entity = entity
        self.peers = frozenset(peers)
        self.peer_type = peer_type
        self.endpoint_url = endpoint_url
        self.skew = skew
        self.store = store
        self.replay_ttl = replay_ttl_seconds

    def peer_endpoint(self, peer: str) -> tuple[str, str, str] | None:
        """(binding, Location, ResponseLocation) of the peer's SingleLogoutService, HTTP-Redirect
        first; None when its metadata offers no SLO we speak."""
        for binding in SLO_BINDINGS:
            try:
                services = self.entity.metadata.single_logout_service(peer, binding, self.peer_type)
            except UnsupportedBinding:  # a known peer without this binding: try the next one
                continue
            except Exception:  # pysaml2 raises on an unknown entity
                return None
            for service in services or []:
                location = service.get("location")
                if location:
                    return binding, location, service.get("response_location") or location
        return None

    # --- incoming -------------------------------------------------------------------------------

    def parse_request(self, message: IncomingMessage, now: dt.datetime) -> VerifiedLogoutRequest:
        if message.kind != "SAMLRequest":
            raise ProtocolError("a LogoutRequest was expected")
        issuer = self._check_transport(message, "LogoutRequest")
        try:
            parsed = self.entity.parse_logout_request(
                message.encoded,
                message.binding,
                relay_state=message.relay_state,
                sigalg=message.sigalg,
                signature=message.signature,
            )
        except Exception as exc:  # pysaml2 raises many unrelated types for a bad request
            raise ProtocolError(f"LogoutRequest refused: {type(exc).__name__}: {exc}") from exc
        if parsed is None or parsed.message is None:
            raise ProtocolError("LogoutRequest refused")
        request = parsed.message
        check_same_issuer(request, issuer, "LogoutRequest")
        self._check_destination(request.destination)
        self._check_issue_instant(request.issue_instant, now)
        if request.not_on_or_after and _instant(request.not_on_or_after) < now - self.skew:
            raise ProtocolError(f"LogoutRequest expired at {request.not_on_or_after}")
        name_id = request.name_id
        if name_id is None or not (name_id.text or "").strip():
            raise ProtocolError("LogoutRequest without NameID")
        consume_once(self.store, f"{REPLAY_SCOPE}:{issuer}", request.id, self.replay_ttl)
        return VerifiedLogoutRequest(
            request_id=request.id,
            issuer=issuer,
            name_id=name_id.text.strip(),
            session_indexes=tuple((si.text or "").strip() for si in request.session_index or []),
            relay_state=message.relay_state,
        )

    def parse_response(self, message: IncomingMessage, now: dt.datetime) -> VerifiedLogoutResponse:
        if message.kind != "SAMLResponse":
            raise ProtocolError("a LogoutResponse was expected")
        issuer = self._check_transport(message, "LogoutResponse")
        try:
            parsed = self.entity.parse_logout_request_response(message.encoded, message.binding)
        except Exception as exc:  # signature, XML or schema: all mean "refused"
            raise ProtocolError(f"LogoutResponse refused: {type(exc).__name__}: {exc}") from exc
        if parsed is None or parsed.response is None:
            raise ProtocolError("LogoutResponse refused")
        response: LogoutResponse = parsed.response
        check_same_issuer(response, issuer, "LogoutResponse")
        self._check_destination(response.destination)
        self._check_issue_instant(response.issue_instant, now)
        if not response.in_response_to:
            raise ProtocolError("LogoutResponse without InResponseTo")
        consume_once(self.store, f"{REPLAY_SCOPE}:{issuer}", response.id, self.replay_ttl)
        code = response.status.status_code if response.status else None
        if code is None or not code.value:
            raise ProtocolError("LogoutResponse without status")
        return VerifiedLogoutResponse(
            issuer=issuer,
            in_response_to=response.in_response_to,
            status=code.value,
            second_status=code.status_code.value if code.status_code else None,
        )

    def _check_transport(self, message: IncomingMessage, element: str) -> str:
        """Size, XML, element, known issuer and a signature of its metadata, before pysaml2."""
        if message.binding == BINDING_HTTP_REDIRECT:
            if len(message.encoded) > MAX_REDIRECT_MESSAGE_CHARS:
                raise ProtocolError(f"{element} too large")
            xml = inflate_redirect_message(message.encoded)
        else:
            if len(message.encoded) > MAX_POST_MESSAGE_CHARS:
                raise ProtocolError(f"{element} too large")
            try:
                xml = base64.b64decode(message.encoded, validate=True)
            except (binascii.Error, ValueError) as exc:
                raise ProtocolError(f"{element} is not base64") from exc
        try:
            root = parse_xml(xml)
        except XmlSecurityError as exc:
            raise ProtocolError(f"undecodable {element}: {exc}") from exc
        if root.tag != f"{{{SAMLP_NS}}}{element}":
            raise ProtocolError(f"{element} without Issuer")
        issuer = issuer_text(root, element)
        if issuer not in self.peers:
            raise UnknownPartner(f"issuer {issuer!r} not registered")
        if message.binding == BINDING_HTTP_REDIRECT:
            self._check_redirect_signature(message, issuer)
        elif root.find(f"{{{DSIG_NS}}}Signature") is None:
            # pysaml2 verifies an enveloped signature when there is one; that there is one is ours.
            raise ProtocolError(f"{element} unsigned")
        return issuer

    def _check_redirect_signature(self, message: IncomingMessage, issuer: str) -> None:
        if message.sigalg not in ACCEPTED_SIGALGS or not message.signature:
            raise ProtocolError(f"unsigned or SigAlg {message.sigalg} refused")
        signed = {message.kind: message.encoded, "SigAlg": message.sigalg, "Signature": message.signature}
        if message.relay_state is not None:
            signed["RelayState"] = message.relay_state
        backend = self.entity.sec.sec_backend
        certs = self.entity.metadata.certs(issuer, "any", "signing")
        try:
            verified = any(verify_redirect_signature(signed, backend, cert) for _, cert in certs)
        except Exception as exc:  # a malformed signature value or key
            raise ProtocolError(f"signature unverifiable: {exc}") from exc
        if not verified:
            raise ProtocolError(f"signature not made by a key of {issuer}")

    def _check_destination(self, destination: str | None) -> None:
        if destination != self.endpoint_url:
            raise ProtocolError(f"Destination {destination!r} is not {self.endpoint_url}")

    def _check_issue_instant(self, issue_instant: str, now: dt.datetime) -> None:
        issued = _instant(issue_instant)
        if not now - MAX_REQUEST_AGE - self.skew <= issued <= now + self.skew:
            raise ProtocolError(f"IssueInstant {issue_instant} outside the accepted window")

    # --- outgoing -------------------------------------------------------------------------------

    def request(self, peer: str, subject: SessionSubject, relay_state: str = "") -> OutgoingMessage:
        """A signed LogoutRequest to ``peer`` naming ``subject``."""
        endpoint = self.peer_endpoint(peer)
        if endpoint is None:
            raise ProtocolError(f"{peer} offers no SingleLogoutService")
        binding, location, _ = endpoint
        message_id, request = self.entity.create_logout_request(
            location,
            peer,
            name_id=subject.saml_name_id(),
            session_indexes=[subject.session_index],
            sign=binding == BINDING_HTTP_POST,
            sign_alg=SIGNING_ALGORITHM,
        )
        return self._outgoing(message_id, binding, location, str(request), "SAMLRequest", relay_state)

    def response(self, request: VerifiedLogoutRequest, complete: bool) -> OutgoingMessage:
        """The signed LogoutResponse; PartialLogout when a participant did not confirm."""
        endpoint = self.peer_endpoint(request.issuer)
        if endpoint is None:
            raise ProtocolError(f"{request.issuer} offers no SingleLogoutService")
        binding, _, location = endpoint
        status = (
            success_status_factory()
            if complete
            else status_message_factory(
                "Logout not confirmed by every session participant", STATUS_PARTIAL_LOGOUT, STATUS_SUCCESS
            )
        )
        built = self.entity._status_response(
            LogoutResponse,
            self.entity._issuer(),
            status,
            sign=binding == BINDING_HTTP_POST,
            sign_alg=SIGNING_ALGORITHM,
            in_response_to=request.request_id,
            destination=location,
        )
        xml = str(built)  # signed (HTTP-POST): already the XML text
        message_id = str(parse_xml(xml.encode()).get("ID"))
        return self._outgoing(message_id, binding, location, xml, "SAMLResponse", request.relay_state or "")

    def _outgoing(
        self, message_id: str, binding: str, location: str, xml: str, kind: str, relay_state: str
    ) -> OutgoingMessage:
        if binding == BINDING_HTTP_REDIRECT:
            info = self.entity.apply_binding(
                binding,
                xml,
                location,
                relay_state,
                response=kind == "SAMLResponse",
                sign=True,
                sigalg=SIGNING_ALGORITHM,
            )
            return OutgoingMessage(message_id, binding, dict(info["headers"])["Location"], {})
        fields = {kind: base64.b64encode(xml.encode()).decode()}
        if relay_state:
            fields["RelayState"] = relay_state
        return OutgoingMessage(message_id, binding, location, fields)


def _instant(value: str) -> dt.datetime:
    try:
        year, month, day, hour, minute, second = str_to_time(value)[:6]
    except (TypeError, ValueError) as exc:
        raise ProtocolError(f"invalid instant {value!r}") from exc
    return dt.datetime(year, month, day, hour, minute, second, tzinfo=dt.UTC)
