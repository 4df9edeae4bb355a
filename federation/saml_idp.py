"""What ÉduConnect (toward the ENTs) and ATEN (toward ÉduConnect) share as SAML IdPs.

Rules (DESIGN §5):

* an AuthnRequest arrives by HTTP-Redirect (SAML bindings §3.4), at most 16 KiB encoded and
  64 KiB inflated, without DOCTYPE, and must be signed (§3.4.4.1) with RSA-SHA256 or better by a
  key of the requesting SP's metadata; or by HTTP-POST (§3.5), at most 64 KiB decoded, with an
  enveloped XML signature (SAML core §5.4) by such a key over the AuthnRequest itself;
* the ACS URL and the binding come from that metadata only (exact match, SAML core §3.4.1); an
  unknown issuer, a foreign ACS URL or another binding gets an error page, never a redirect;
* the IssueInstant is fresh (pysaml2 tolerates a day and only logs); the end of that window
  (``AuthenticationRequest.valid_until``) is how long ``federation.authn_requests_once`` keeps the
  request's ID, answered once;
* the Response goes back by HTTP-POST (bindings §3.5), Response and Assertion both signed
  RSA-SHA256 / SHA-256, with a persistent NameID (SAML core §8.3.7) qualified by our entity ID
  (NameQualifier) and the SP's (SPNameQualifier);
* the Assertion is encrypted (AES-256-GCM, RSA-OAEP) for an SP whose metadata publishes an
  encryption key; a backend that cannot (xmlsec1) makes the IdP refuse to start with such an SP.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import zlib
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT
from saml2.attribute_converter import ac_factory
from saml2.s_utils import UnknownPrincipal, UnsupportedBinding
from saml2.saml import NAMEID_FORMAT_PERSISTENT, NAMEID_FORMAT_UNSPECIFIED, NameID
from saml2.server import Server
from saml2.sigver import (
    SignatureError,
    get_pem_wrapped_unwrapped,
    make_temp,
    pre_encryption_part,
    verify_redirect_signature,
)
from saml2.time_util import str_to_time

from federation import algorithm_support
from federation.errors import ClockSkew, ConfigurationError, ProtocolError, UnknownPartner
from federation.protocol_schema import protocol_schema, schema_errors
from federation.response_template import ResponseFields, ResponseTemplate, attribute_names
from federation.saml import MAX_REDIRECT_MESSAGE_CHARS, service_block
from federation.settings import Settings
from federation.xml_security import (
    AES256_GCM,
    DS_NS,
    RSA_OAEP_MGF1P,
    SAML_NS,
    SAMLP_NS,
    InProcessXmlSecBackend,
    XmlSecurityError,
    check_enveloped_signature,
    parse_xml,
    serialize_document,
)

AUTHN_CONTEXT_CLASS = "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport"
# The HTTP-Redirect SigAlg values accepted: the signature algorithms metadata advertises.
ACCEPTED_SIGALGS = frozenset(algorithm_support.SIGNATURE_ALGORITHMS)
ACCEPTED_NAMEID_FORMATS = (None, NAMEID_FORMAT_PERSISTENT, NAMEID_FORMAT_UNSPECIFIED)
MAX_REQUEST_AGE = dt.timedelta(minutes=10)
MAX_INFLATED_BYTES = 64 * 1024
# HTTP-POST carries the XML base64-encoded, not deflated: the same 64 KiB of XML, encoded.
MAX_POST_REQUEST_CHARS = 4 * -(-MAX_INFLATED_BYTES // 3)


@dataclass(frozen=True)
class AuthenticationRequest:
    """A verified AuthnRequest, in neutral terms (kept in the session until answered)."""

    request_id: str
    sp_entity_id: str
    acs_url: str
    relay_state: str | None
    force_authn: bool = False
    requested_idps: tuple[str, ...] = ()  # <samlp:Scoping><samlp:IDPList> (SAML core §3.4.1.2)
    # Until when (seconds since the epoch) its IssueInstant lets it be presented: how long its ID
    # is kept in the one-time store (``federation.authn_requests_once``).
    valid_until: int = 0

    @classmethod
    def from_session(cls, data: Mapping[str, Any]) -> AuthenticationRequest:
        return cls(**{**data, "requested_idps": tuple(data.get("requested_idps", ()))})


@dataclass(frozen=True)
class _RequestFields:
    """What the checks after the signature read of an AuthnRequest (SAML core §3.4.1)."""

    request_id: str
    issue_instant: str
    protocol_binding: str | None
    has_name_id_policy: bool
    name_id_format: str | None
    force_authn: str | None
    requested_idps: tuple[str, ...]  # <samlp:Scoping><samlp:IDPList> (SAML core §3.4.1.2)
    acs_url: str | None
    acs_index: str | None
    destination: str | None  # required, and equal to our SSO URL of the binding

    @classmethod
    def from_lxml(cls, root: Any) -> _RequestFields:
        """From a schema-valid ``samlp:AuthnRequest`` (ID and IssueInstant are required)."""
        policy = root.find(f"{{{SAMLP_NS}}}NameIDPolicy")
        entries = root.iterfind(f"{{{SAMLP_NS}}}Scoping/{{{SAMLP_NS}}}IDPList/{{{SAMLP_NS}}}IDPEntry")
        return cls(
            request_id=root.get("ID"),
            issue_instant=root.get("IssueInstant"),
            protocol_binding=root.get("ProtocolBinding"),
            has_name_id_policy=policy is not None,
            name_id_format=policy.get("Format") if policy is not None else None,
            force_authn=root.get("ForceAuthn"),
            requested_idps=tuple(e.get("ProviderID") for e in entries if e.get("ProviderID")),
            acs_url=root.get("AssertionConsumerServiceURL"),
            acs_index=root.get("AssertionConsumerServiceIndex"),
            destination=root.get("Destination"),
        )

    @classmethod
    def from_pysaml2(cls, message: Any) -> _RequestFields:
        policy = message.name_id_policy
        return cls(
            request_id=message.id,
            issue_instant=message.issue_instant,
            protocol_binding=message.protocol_binding,
            has_name_id_policy=policy is not None,
            name_id_format=policy.format if policy is not None else None,
            force_authn=message.force_authn,
            requested_idps=_requested_idps(message),
            acs_url=message.assertion_consumer_service_url,
            acs_index=message.assertion_consumer_service_index,
            destination=message.destination,
        )


@dataclass(frozen=True)
class PostForm:
    """What the HTTP-POST binding page must submit, and where."""

    action: str
    fields: dict[str, str]
    session_index: str = ""  # of the AuthnStatement: what a LogoutRequest names (SAML core §3.7.1)


def idp_service_block(
    settings: Settings, title: str, slo_url: str | None = None
) -> dict[str, dict[str, object]]:
    """``slo_url``: the SingleLogoutService (HTTP-Redirect and HTTP-POST) of a session authority.

    The SingleSignOnService takes AuthnRequests by HTTP-Redirect and by HTTP-POST at one URL."""
    sso_url = f"{settings.base_url}/saml/sso"
    endpoints: dict[str, list[tuple[str, str]]] = {
        "single_sign_on_service": [(sso_url, BINDING_HTTP_REDIRECT), (sso_url, BINDING_HTTP_POST)]
    }
    if slo_url:
        endpoints["single_logout_service"] = [(slo_url, BINDING_HTTP_REDIRECT), (slo_url, BINDING_HTTP_POST)]
    return {
        "idp": service_block(
            name=title,
            endpoints=endpoints,
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


def decode_post_message(encoded: str) -> bytes:
    """base64 (SAML bindings §3.5.4), at most MAX_POST_REQUEST_CHARS, refused with a DOCTYPE."""
    if not encoded or len(encoded) > MAX_POST_REQUEST_CHARS:
        raise ProtocolError("SAMLRequest absent or too large")
    try:
        # Some SPs wrap the field's value in lines; base64 itself has no whitespace.
        xml = base64.b64decode("".join(encoded.split()), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ProtocolError(f"undecodable AuthnRequest: {exc}") from exc
    if b"<!DOCTYPE" in xml or b"<!ENTITY" in xml:
        raise ProtocolError("DOCTYPE in AuthnRequest")
    # pysaml2 reads an HTTP-POST message as DEFLATE first and as plain base64 only when that
    # fails: bytes that inflate would have it verify another document than the one checked here.
    inflater = zlib.decompressobj(-zlib.MAX_WBITS)
    try:
        inflater.decompress(xml, MAX_INFLATED_BYTES)
        inflates = inflater.eof or bool(inflater.unconsumed_tail)
    except zlib.error:
        inflates = False
    if inflates:
        raise ProtocolError("HTTP-POST AuthnRequest is deflated (base64 only, SAML bindings §3.5.4)")
    return xml


class EncryptingServer(Server):
    """pysaml2's Server, asking for AES-256-GCM + RSA-OAEP when it encrypts an assertion.

    pysaml2 7.5 builds its encryption template with 3DES-CBC and no way to configure it; the
    xmlsec1 backend follows the template, so the template must say what DESIGN §5 requires.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # pysaml2 7.5 looks the converters up in the "idp" context, finds none and rebuilds its
        # default attribute maps on every response (Policy.filter → ac_factory()): build them once.
        self.config.setattr("idp", "attribute_converters", ac_factory())

    # pysaml2 keeps every assertion it issues in an in-memory dict to answer AssertionIDRequest and
    # AuthnQuery (SAML core §3.3-3.4); we offer neither, and the dict grows with every login.
    def support_AssertionIDRequest(self) -> bool:
        return False

    def support_AuthnQuery(self) -> bool:
        return False

    def _encrypt_assertion(
        self, encrypt_cert: Any, sp_entity_id: str, response: Any, node_xpath: Any = None
    ) -> Any:
        certs = (
            [(None, encrypt_cert)] if encrypt_cert else self.metadata.certs(sp_entity_id, "any", "encryption")
        )
        if not certs:
            raise ProtocolError(f"no encryption key in the metadata of {sp_entity_id}")
        _, cert = certs[0]
        wrapped, unwrapped = get_pem_wrapped_unwrapped(cert)
        tmp = make_temp(wrapped.encode("ascii"), decode=False, delete_tmpfiles=self.config.delete_tmpfiles)
        template = pre_encryption_part(msg_enc=AES256_GCM, key_enc=RSA_OAEP_MGF1P, encrypt_cert=unwrapped)
        return self.sec.encrypt_assertion(response, tmp.name, template, node_xpath=node_xpath)


class IdentityProviderCore:
    """Request checks and signed answers around one pysaml2 Server (built once per process)."""

    def __init__(
        self, server: Server, known_sps: Collection[str], skew: dt.timedelta, can_encrypt: bool = True
    ) -> None:
        self.server = server
        self.entity_id: str = server.config.entityid
        self.known_sps = frozenset(known_sps)
        self.skew = skew
        # Where each binding's AuthnRequests must say they go (Destination, SAML bindings
        # §3.4.5.2 / §3.5.5.2): our SingleSignOnService locations.
        endpoints = server.config.getattr("endpoints", "idp") or {}
        self.sso_urls = {binding: url for url, binding in endpoints.get("single_sign_on_service", [])}
        # SPs whose metadata publishes an encryption key get encrypted assertions (DESIGN §5).
        # Only the in-process backend can: Debian's xmlsec1 1.2.37 fails on an AES-GCM template
        # and pysaml2 would otherwise fall back to 3DES-CBC, which DESIGN §5 rules out. Sending
        # such an SP signed-only assertions would be a silent downgrade: refuse to start instead.
        metadata = server.metadata
        self.encrypting_for = frozenset(
            sp for sp in self.known_sps if metadata and metadata.certs(sp, "spsso", "encryption")
        )
        if self.encrypting_for and not can_encrypt:
            raise ConfigurationError(
                f"{self.entity_id} : crypto_backend xmlsec1 ne chiffre pas en AES-GCM, or "
                f"{', '.join(sorted(self.encrypting_for))} publie une clé de chiffrement dans ses "
                "métadonnées ; choisissez crypto_backend inprocess, ou des métadonnées de ce SP sans "
                "clé de chiffrement"
            )
        # The Response skeleton and the attribute maps' Names, prepared once per worker (the
        # signing key is loaded once too, by the backend's key cache).
        self.template = ResponseTemplate(
            self.entity_id, AUTHN_CONTEXT_CLASS, attribute_names(server.config.attribute_converters)
        )
        self._lifetimes: dict[str, dt.timedelta] = {}
        protocol_schema()  # loaded now: a missing schema file stops the start
        # The SPs' encryption certificates (PEM), read from their metadata once.
        self.encryption_certs = {
            sp: get_pem_wrapped_unwrapped(server.metadata.certs(sp, "spsso", "encryption")[0][1])[0]
            for sp in self.encrypting_for
        }

    def parse_redirect_request(self, args: Mapping[str, str], now: dt.datetime) -> AuthenticationRequest:
        saml_request = args.get("SAMLRequest", "")
        if not saml_request or len(saml_request) > MAX_REDIRECT_MESSAGE_CHARS:
            raise ProtocolError("SAMLRequest absent or too large")
        xml = inflate_redirect_message(saml_request)
        root = _parsed_request(xml)
        issuer = _issuer_of(root)
        if issuer not in self.known_sps:
            raise UnknownPartner(f"issuer {issuer!r} not registered")
        sigalg = args.get("SigAlg")
        if sigalg not in ACCEPTED_SIGALGS or not args.get("Signature"):
            raise ProtocolError(f"AuthnRequest unsigned or SigAlg {sigalg} refused")
        relay_state = args.get("RelayState")
        self._check_redirect_signature(issuer, saml_request, sigalg, args["Signature"], relay_state)
        # Signed by the issuer: now read, with lxml, what pysaml2's object model would check.
        error = schema_errors(root)
        if error is not None:
            raise ProtocolError(f"AuthnRequest refused: not valid for the SAML schema: {error}")
        if root.get("Version") != "2.0":
            raise ProtocolError(f"AuthnRequest refused: Version {root.get('Version')!r}, 2.0 expected")
        if root.find(f"{{{DS_NS}}}Signature") is not None:
            # SAML bindings §3.4.4.1 says to remove it before DEFLATE, but pysaml2 SPs send it
            # along: checked as pysaml2 always did (the issuer's metadata keys), not ignored.
            try:
                self.server.sec.correctly_signed_authn_request(xml.decode(), must=True, origdoc=saml_request)
            except Exception as exc:  # pysaml2 raises many unrelated types for a bad signature
                raise ProtocolError(
                    f"AuthnRequest XML signature refused: {type(exc).__name__}: {exc}"
                ) from exc
        return self._checked_request(
            _RequestFields.from_lxml(root), issuer, relay_state, now, BINDING_HTTP_REDIRECT
        )

    def _check_redirect_signature(
        self, issuer: str, saml_request: str, sigalg: str, signature: str, relay_state: str | None
    ) -> None:
        """The query-string signature (SAML bindings §3.4.4.1) by a signing key of the issuer's
        metadata, as pysaml2's ``Request._do_redirect_sig_check`` checks it."""
        signed = {"SAMLRequest": saml_request, "Signature": signature, "SigAlg": sigalg}
        if relay_state is not None:
            signed["RelayState"] = relay_state
        certs = self.server.metadata.certs(issuer, "any", "signing")
        try:
            verified = any(
                verify_redirect_signature(signed, self.server.sec.sec_backend, cert) for _, cert in certs
            )
        except Exception as exc:  # pysaml2 raises many unrelated types for a bad signature
            raise ProtocolError(f"AuthnRequest signature refused: {type(exc).__name__}: {exc}") from exc
        if not verified:
            raise ProtocolError("AuthnRequest signature refused: no signing key of the issuer's metadata")

    def parse_post_request(self, form: Mapping[str, str], now: dt.datetime) -> AuthenticationRequest:
        """An AuthnRequest by HTTP-POST: the same rules as by HTTP-Redirect, the signature being
        enveloped in the AuthnRequest (SAML core §5.4) and checked with the SP's metadata keys."""
        saml_request = form.get("SAMLRequest", "")
        root = _parsed_request(decode_post_message(saml_request))
        issuer = _issuer_of(root)
        if issuer not in self.known_sps:
            raise UnknownPartner(f"issuer {issuer!r} not registered")
        try:
            # Profile checks whatever the backend: one enveloped signature over this very
            # element (no wrapping), exclusive c14n, SHA-256+. The value is checked by pysaml2
            # with the issuer's metadata keys only (``must``: WantAuthnRequestsSigned).
            check_enveloped_signature(root, f"{SAMLP_NS}:AuthnRequest")
        except XmlSecurityError as exc:
            raise ProtocolError(f"AuthnRequest unsigned or signature refused: {exc}") from exc
        try:
            parsed = self.server.parse_authn_request("".join(saml_request.split()), BINDING_HTTP_POST)
        except Exception as exc:  # pysaml2 raises many unrelated types for a bad request
            raise ProtocolError(f"AuthnRequest refused: {type(exc).__name__}: {exc}") from exc
        if parsed is None or parsed.message is None:
            raise ProtocolError("AuthnRequest refused")
        check_same_issuer(parsed.message, issuer, "AuthnRequest")
        return self._checked_request(
            _RequestFields.from_pysaml2(parsed.message),
            issuer,
            form.get("RelayState"),
            now,
            BINDING_HTTP_POST,
        )

    def _checked_request(
        self, message: _RequestFields, issuer: str, relay_state: str | None, now: dt.datetime, binding: str
    ) -> AuthenticationRequest:
        """The rules after the signature, the same for both bindings."""
        expected = self.sso_urls.get(binding)
        if expected is None or message.destination != expected:
            raise ProtocolError(f"AuthnRequest Destination {message.destination!r} is not {expected}")
        valid_until = self._check_issue_instant(message.issue_instant, now)
        if message.protocol_binding not in (None, BINDING_HTTP_POST):
            raise ProtocolError(f"ProtocolBinding {message.protocol_binding} not offered")
        if message.has_name_id_policy and message.name_id_format not in ACCEPTED_NAMEID_FORMATS:
            raise ProtocolError(f"NameIDPolicy {message.name_id_format} not offered (persistent only)")
        # pysaml2's selection (SAML core §3.4.1: the URL or the index, else the default), from
        # the issuer's metadata only.
        wanted = SimpleNamespace(
            assertion_consumer_service_url=message.acs_url,
            assertion_consumer_service_index=message.acs_index,
            protocol_binding=message.protocol_binding,
        )
        try:
            _, acs_url = self.server.pick_binding(
                "assertion_consumer_service", [BINDING_HTTP_POST], request=wanted, entity_id=issuer
            )
        except Exception as exc:
            raise ProtocolError(f"ACS not in metadata of {issuer}: {exc}") from exc
        return AuthenticationRequest(
            request_id=message.request_id,
            sp_entity_id=issuer,
            acs_url=acs_url,
            relay_state=relay_state,
            force_authn=message.force_authn in ("true", "1"),
            requested_idps=message.requested_idps,
            valid_until=int(valid_until.timestamp()),
        )

    def build_response(
        self,
        request: AuthenticationRequest,
        subject: str,
        attributes: Mapping[str, list[str]],
        authn_instant: dt.datetime,
    ) -> PostForm:
        """A signed Response with a signed Assertion carrying a persistent, qualified NameID.

        With the in-process backend (the one deployed) the Response is built from the worker's
        :class:`ResponseTemplate` and sealed (Assertion signed, encrypted for an SP publishing an
        encryption key, Response signed) in one pass over one tree; with xmlsec1, pysaml2 builds
        and seals it (:meth:`build_response_with_pysaml2`)."""
        backend = self.server.sec.crypto
        if not isinstance(backend, InProcessXmlSecBackend):
            return self.build_response_with_pysaml2(request, subject, attributes, authn_instant)
        released = self._released(request.sp_entity_id, attributes)
        try:
            built = self.template.build(
                ResponseFields(
                    in_response_to=request.request_id,
                    destination=request.acs_url,
                    audience=request.sp_entity_id,
                    subject=subject,
                    authn_instant=authn_instant,
                    issued_at=dt.datetime.now(dt.UTC),
                    lifetime=self._lifetime(request.sp_entity_id),
                    attributes=released,
                )
            )
            backend.seal_tree(
                built.root,
                self.server.sec.key_file,
                self.server.sec.my_cert,
                self.server.signing_algorithm,
                self.server.digest_algorithm,
                recipient=self.encryption_certs.get(request.sp_entity_id),
            )
        except (ValueError, SignatureError, XmlSecurityError) as exc:  # ValueError: not XML characters
            raise ProtocolError(f"response not built: {exc}") from exc
        return _post_form(request, serialize_document(built.root), built.session_index)

    def _released(
        self, sp_entity_id: str, attributes: Mapping[str, list[str]]
    ) -> list[tuple[str, list[str]]]:
        """pysaml2's policy for this SP (its metadata's RequestedAttribute, the configured
        restrictions), as ``create_authn_response`` applies it."""
        policy = self.server.config.getattr("policy", "idp")
        ava = {name: list(values) for name, values in attributes.items()}
        if policy is not None:
            try:
                ava = policy.restrict(ava, sp_entity_id)
            except Exception as exc:  # pysaml2's MissingValue and friends: a requirement unmet
                raise ProtocolError(f"response not built: {type(exc).__name__}: {exc}") from exc
        return [(name, [str(value) for value in values]) for name, values in ava.items()]

    def _lifetime(self, sp_entity_id: str) -> dt.timedelta:
        lifetime = self._lifetimes.get(sp_entity_id)
        if lifetime is None:
            policy = self.server.config.getattr("policy", "idp")
            lifetime = dt.timedelta(**(policy.get_lifetime(sp_entity_id) if policy else {"hours": 1}))
            self._lifetimes[sp_entity_id] = lifetime
        return lifetime

    def build_response_with_pysaml2(
        self,
        request: AuthenticationRequest,
        subject: str,
        attributes: Mapping[str, list[str]],
        authn_instant: dt.datetime,
    ) -> PostForm:
        """The Response through pysaml2's object model: the xmlsec1 backend's path, and the
        reference :meth:`build_response` is compared with (tests/unit/test_response_template.py)."""
        name_id = NameID(
            format=NAMEID_FORMAT_PERSISTENT,
            name_qualifier=self.entity_id,
            sp_name_qualifier=request.sp_entity_id,
            text=subject,
        )
        backend = self.server.sec.crypto
        sealer = backend if isinstance(backend, InProcessXmlSecBackend) else None
        try:
            response = self.server.create_authn_response(
                {name: list(values) for name, values in attributes.items()},
                in_response_to=request.request_id,
                destination=request.acs_url,
                sp_entity_id=request.sp_entity_id,
                name_id=name_id,
                sign_response=sealer is None,
                sign_assertion=sealer is None,
                encrypt_assertion=sealer is None and request.sp_entity_id in self.encrypting_for,
                authn={"class_ref": AUTHN_CONTEXT_CLASS, "authn_instant": int(authn_instant.timestamp())},
            )
            xml = str(response)
            session_index = _session_index(xml)
            if sealer is not None:
                xml = sealer.seal_response(
                    xml,
                    self.server.sec.key_file,
                    self.server.sec.my_cert,
                    self.server.signing_algorithm,
                    self.server.digest_algorithm,
                    recipient=self.encryption_certs.get(request.sp_entity_id),
                )
        except (UnknownPrincipal, UnsupportedBinding, SignatureError) as exc:
            raise ProtocolError(f"response not built: {exc}") from exc
        return _post_form(request, xml, session_index)

    def _check_issue_instant(self, issue_instant: str, now: dt.datetime) -> dt.datetime:
        """The end of the request's validity window, once ``now`` is checked to be inside it."""
        year, month, day, hour, minute, second = str_to_time(issue_instant)[:6]
        issued = dt.datetime(year, month, day, hour, minute, second, tzinfo=dt.UTC)
        if not now - MAX_REQUEST_AGE - self.skew <= issued <= now + self.skew:
            offset = (issued - now).total_seconds()
            raise ClockSkew(
                f"clock skew: offset_seconds={offset:+.0f} allowed_seconds={self.skew.total_seconds():.0f} "
                f"(AuthnRequest IssueInstant {issue_instant}, at most {MAX_REQUEST_AGE} old)",
                offset,
            )
        return issued + MAX_REQUEST_AGE + self.skew


def _post_form(request: AuthenticationRequest, xml: str, session_index: str) -> PostForm:
    fields = {"SAMLResponse": base64.b64encode(xml.encode()).decode()}
    if request.relay_state:
        fields["RelayState"] = request.relay_state
    return PostForm(action=request.acs_url, fields=fields, session_index=session_index)


def _parsed_request(xml: bytes) -> Any:
    """The hardened parse (no DOCTYPE, no entities, no network) of a decoded AuthnRequest."""
    try:
        return parse_xml(xml)
    except XmlSecurityError as exc:
        raise ProtocolError(f"undecodable AuthnRequest: {exc}") from exc


def _issuer_of(root: Any) -> str:
    """Issuer before verification, only to tell "unknown partner" from "bad signature"."""
    if root.tag != f"{{{SAMLP_NS}}}AuthnRequest":
        raise ProtocolError("AuthnRequest without Issuer")
    return issuer_text(root, "AuthnRequest")


def issuer_text(root: Any, element: str) -> str:
    """The text of the message's ``saml:Issuer``, refused when it has any child node.

    lxml's ``.text`` stops at a comment, a processing instruction or an element, while pysaml2
    joins the text around it: ``A<!---->.evil.example`` would be checked as A and verified with
    the keys of ``A.evil.example``. An Issuer is a plain string (SAML core §2.2.5): nothing else.
    """
    issuer = root.find(f"{{{SAML_NS}}}Issuer")
    if issuer is None or not (issuer.text or "").strip():
        raise ProtocolError(f"{element} without Issuer")
    if len(issuer):  # lxml counts comments and processing instructions as children too
        raise ProtocolError(f"{element} Issuer is not plain text (a comment, PI or element inside)")
    return str(issuer.text).strip()


def check_same_issuer(message: Any, issuer: str, element: str) -> None:
    """After pysaml2's verification: the issuer it verified for is the one we checked."""
    parsed = getattr(getattr(message, "issuer", None), "text", None)
    if (parsed or "").strip() != issuer:
        raise ProtocolError(f"{element} Issuer read by pysaml2 {parsed!r} is not {issuer!r}")


def _session_index(xml: str) -> str:
    """The SessionIndex pysaml2 gave the AuthnStatement (read before any encryption)."""
    statement = parse_xml(xml.encode()).find(f".//{{{SAML_NS}}}AuthnStatement")
    return statement.get("SessionIndex", "") if statement is not None else ""


def _requested_idps(message: object) -> tuple[str, ...]:
    scoping = getattr(message, "scoping", None)
    idp_list = getattr(scoping, "idp_list", None) if scoping else None
    entries = getattr(idp_list, "idp_entry", None) or []
    return tuple(entry.provider_id for entry in entries if entry.provider_id)
