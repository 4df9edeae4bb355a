"""The ENT portal as a SAML SP of ÉduConnect: signed AuthnRequests out, strict Responses in.

Incoming Responses (DESIGN §5): size capped before decoding, no DOCTYPE, Response and Assertion
both signed by a key of the IdP's metadata, exactly one assertion, InResponseTo among this
browser's pending requests (never unsolicited), audience / destination / recipient / time window
checked by pysaml2 with our skew; the assertion ID is consumed once by the caller.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from dataclasses import dataclass

from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT
from saml2.client import Saml2Client
from saml2.samlp import IDPEntry, IDPList, Scoping

from federation.errors import ConfigurationError, ProtocolError
from federation.saml import (
    MAX_POST_MESSAGE_CHARS,
    SIGNING_ALGORITHM,
    build_config,
    metadata_xml,
    service_block,
)
from federation.settings import Settings


@dataclass(frozen=True)
class AuthenticatedParent:
    """What the ENT learnt from one verified assertion."""

    issuer: str
    subject: str  # persistent pairwise NameID
    assertion_id: str
    in_response_to: str
    attributes: dict[str, list[str]]

    def first(self, name: str) -> str:
        values = self.attributes.get(name) or [""]
        return values[0]


@dataclass(frozen=True)
class OutgoingRequest:
    request_id: str
    url: str


def sp_services(settings: Settings) -> dict[str, dict[str, object]]:
    return {
        "sp": service_block(
            name="Services en ligne",
            endpoints={"assertion_consumer_service": [(f"{settings.base_url}/saml/acs", BINDING_HTTP_POST)]},
            authn_requests_signed=True,
            want_response_signed=True,
            want_assertions_signed=True,
            allow_unsolicited=False,
        )
    }


class SamlServiceProvider:
    """Built once per process (metadata and keys parsed at construction)."""

    def __init__(self, settings: Settings) -> None:
        config = build_config(
            settings,
            sp_services(settings),
            metadata_files=list(settings.peer_metadata),
            name="Services en ligne",
        )
        self.client = Saml2Client(config)
        self.metadata = metadata_xml(config)
        idps = list(self.client.metadata.identity_providers())
        if len(idps) != 1:
            raise ConfigurationError(f"ent.peer_metadata: un seul IdP attendu, trouvé {len(idps)}")
        self.idp_entity_id: str = idps[0]

    def authn_request(self, relay_state: str = "", scoped_idp: str | None = None) -> OutgoingRequest:
        """A signed AuthnRequest (HTTP-Redirect); ``scoped_idp`` asks the IdP for an upstream IdP."""
        extra = {}
        if scoped_idp:
            # SAML core §3.4.1.2: the IdP should proxy to one of the IDPList entries.
            extra["scoping"] = Scoping(idp_list=IDPList(idp_entry=[IDPEntry(provider_id=scoped_idp)]))
        request_id, info = self.client.prepare_for_authenticate(
            entityid=self.idp_entity_id,
            relay_state=relay_state,
            binding=BINDING_HTTP_REDIRECT,
            sign=True,
            sigalg=SIGNING_ALGORITHM,
            **extra,
        )
        location = dict(info["headers"])["Location"]
        return OutgoingRequest(request_id=request_id, url=location)

    def parse_response(self, form: Mapping[str, str], outstanding: Mapping[str, str]) -> AuthenticatedParent:
        encoded = form.get("SAMLResponse", "")
        if not encoded or len(encoded) > MAX_POST_MESSAGE_CHARS:
            raise ProtocolError("SAMLResponse absent or too large")
        try:
            xml = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise ProtocolError("SAMLResponse is not base64") from exc
        if b"<!DOCTYPE" in xml or b"<!ENTITY" in xml:
            raise ProtocolError("DOCTYPE in SAMLResponse")
        try:
            response = self.client.parse_authn_request_response(
                encoded, BINDING_HTTP_POST, outstanding=dict(outstanding)
            )
        except Exception as exc:  # pysaml2 raises dozens of unrelated types; all mean "refused"
            raise ProtocolError(f"Response refused: {type(exc).__name__}: {exc}") from exc
        if response is None:
            raise ProtocolError("Response refused")
        message = response.response
        if len(message.assertion) + len(message.encrypted_assertion) != 1:
            raise ProtocolError("exactly one assertion expected")
        if response.issuer() != self.idp_entity_id:
            raise ProtocolError(f"unexpected issuer {response.issuer()}")
        return AuthenticatedParent(
            issuer=response.issuer(),
            subject=response.name_id.text,
            assertion_id=response.assertion.id,
            in_response_to=message.in_response_to,
            attributes={k: [str(v) for v in vals] for k, vals in response.get_identity().items()},
        )
