"""Strict reading of an incoming SAML Response (at the ENT, and at ÉduConnect from ATEN).

DESIGN §5: size capped before decoding, no DOCTYPE, signature by a key of the issuer's metadata
(pysaml2, with ``want_response_signed`` / ``want_assertions_signed``), identity read only from
the signed assertion, exactly one assertion, InResponseTo among this browser's pending requests
(never unsolicited), Audience / Destination / Recipient / time window with our skew (pysaml2).
The caller consumes the assertion ID once (``federation.stores.consume_once``).

A Response refused only for its time window (pysaml2 checks NotBefore / NotOnOrAfter after the
signatures) raises :class:`ClockSkew` with the measured offset: the parent is told to try again,
the log says by how much the partner's clock is off.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from saml2 import BINDING_HTTP_POST
from saml2.client import Saml2Client
from saml2.response import StatusError
from saml2.validate import ResponseLifetimeExceed, ToEarly

from federation.errors import AuthenticationRefused, ClockSkew, ProtocolError
from federation.xml_security import parse_xml

MAX_POST_MESSAGE_CHARS = 200 * 1024
SAML_SUCCESS = "urn:oasis:names:tc:SAML:2.0:status:Success"
_NS = {"samlp": "urn:oasis:names:tc:SAML:2.0:protocol", "saml": "urn:oasis:names:tc:SAML:2.0:assertion"}


@dataclass(frozen=True)
class VerifiedAssertion:
    issuer: str
    subject: str  # the persistent NameID value
    subject_format: str
    assertion_id: str
    in_response_to: str
    attributes: dict[str, list[str]]
    # What a LogoutRequest names (SAML core §3.7.1): the NameID's qualifiers, the SessionIndex.
    name_qualifier: str = ""
    sp_name_qualifier: str = ""
    session_index: str = ""

    def first(self, name: str) -> str:
        values = self.attributes.get(name) or [""]
        return values[0]


def parse_strict_response(
    client: Saml2Client,
    form: Mapping[str, str],
    outstanding: Mapping[str, str],
    expected_issuer: str,
    received_at: dt.datetime,
) -> VerifiedAssertion:
    """``received_at`` (aware): our time when the Response arrived, to measure a clock skew."""
    encoded = form.get("SAMLResponse", "")
    if not encoded or len(encoded) > MAX_POST_MESSAGE_CHARS:
        raise ProtocolError("SAMLResponse absent or too large")
    try:
        xml = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ProtocolError("SAMLResponse is not base64") from exc
    root = _check_one_assertion(xml)
    try:
        response = client.parse_authn_request_response(
            encoded, BINDING_HTTP_POST, outstanding=dict(outstanding)
        )
    except StatusError as exc:  # a well-formed "no": the partner did not authenticate the user
        raise AuthenticationRefused(f"status {type(exc).__name__}: {exc}") from exc
    except (ResponseLifetimeExceed, ToEarly) as exc:  # signed, but outside our time window
        offset = issue_instant_offset(root, received_at)
        shown = "unknown" if offset is None else f"{offset:+.0f}"
        raise ClockSkew(
            f"clock skew: offset_seconds={shown} issuer={_issuer(root)} "
            f"allowed_seconds={client.config.accepted_time_diff} ({type(exc).__name__}: {exc})",
            offset,
        ) from exc
    except Exception as exc:  # pysaml2 raises dozens of unrelated types; all mean "refused"
        raise ProtocolError(f"Response refused: {type(exc).__name__}: {exc}") from exc
    # pysaml2 returns a hollow object for some refusals (e.g. a foreign Destination).
    if response is None or response.response is None or response.assertion is None:
        raise ProtocolError("Response refused")
    message = response.response
    if response.issuer() != expected_issuer or response.assertion.issuer.text.strip() != expected_issuer:
        raise ProtocolError(f"unexpected issuer {response.issuer()}")
    _check_recipients(response.assertion, set(client.service_urls(binding=BINDING_HTTP_POST)))
    name_id = response.name_id
    if name_id is None or not name_id.text:
        raise ProtocolError("assertion without NameID")
    return VerifiedAssertion(
        issuer=expected_issuer,
        subject=name_id.text.strip(),
        subject_format=name_id.format or "",
        assertion_id=response.assertion.id,
        in_response_to=message.in_response_to,
        attributes={k: [str(v) for v in vals] for k, vals in response.get_identity().items()},
        name_qualifier=name_id.name_qualifier or "",
        sp_name_qualifier=name_id.sp_name_qualifier or "",
        session_index=_session_index(response.assertion),
    )


def _session_index(assertion: Any) -> str:
    statements = assertion.authn_statement or []
    return (statements[0].session_index or "") if statements else ""


def issue_instant_offset(root: Any, received_at: dt.datetime) -> float | None:
    """Seconds from our time at reception to the Response's IssueInstant (SAML core §3.2.2):
    how far the partner's clock is ahead of ours (negative: behind), give or take the transit."""
    value = root.get("IssueInstant") or ""
    try:
        issued = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if issued.tzinfo is None:
        return None
    return (issued - received_at).total_seconds()


def _issuer(root: Any) -> str:
    issuer: str = root.xpath("string(/samlp:Response/saml:Issuer)", namespaces=_NS)
    return issuer.strip()[:200] or "-"


def _check_one_assertion(xml: bytes) -> Any:
    """Exactly one Assertion or EncryptedAssertion, counted before decryption; no DOCTYPE.
    Returns the parsed document."""
    try:
        root = parse_xml(xml)
    except Exception as exc:  # the hardened parser refuses DOCTYPEs and malformed XML
        raise ProtocolError(f"SAMLResponse refused by the XML parser: {exc}") from exc
    found = root.xpath(
        "/samlp:Response/saml:Assertion | /samlp:Response/saml:EncryptedAssertion", namespaces=_NS
    )
    status = root.xpath("string(/samlp:Response/samlp:Status/samlp:StatusCode/@Value)", namespaces=_NS)
    if not found and status and status != SAML_SUCCESS:
        return root  # a refusal carries no assertion: pysaml2 checks its signature, then StatusError
    if len(found) != 1:
        raise ProtocolError(f"exactly one assertion expected, found {len(found)}")
    return root


def _check_recipients(assertion: Any, acs_urls: set[str]) -> None:
    """SAML profiles §4.1.4.2: a bearer SubjectConfirmationData names our ACS as Recipient.

    pysaml2 skips this check unless given "conversation info", so we make it ourselves.
    """
    confirmations = assertion.subject.subject_confirmation if assertion.subject else []
    if not confirmations:
        raise ProtocolError("assertion without SubjectConfirmation")
    for confirmation in confirmations:
        data = confirmation.subject_confirmation_data
        if data is None or data.recipient not in acs_urls:
            raise ProtocolError(f"Recipient {getattr(data, 'recipient', None)!r} is not our ACS")
