"""The IdP's unsigned ``samlp:Response`` built from a skeleton prepared once per worker (lxml).

pysaml2 builds a Response through its object model (``saml2.saml`` classes, ``Policy``,
``Assertion``, attribute converters, ``str()``), about a sixth of an SSO's CPU on the hot path.
This module builds the same document (SAML core §2.3.3, §3.3.3; profiles §4.1.4.2) from a tree
parsed once, copied per answer, with every value set through lxml's element and attribute API, so
XML-special characters are escaped by lxml and never concatenated into markup.

What stays pysaml2's: the policy that decides which attributes an SP receives (``Policy.restrict``:
the SP metadata's RequestedAttribute, the configured restrictions) and the attribute maps giving
each FriendlyName its Name and NameFormat (``federation.attribute_converters``), both read from the
same ``Server``; ``tests/unit/test_response_template.py`` compares this builder with pysaml2's
``create_authn_response`` after exclusive c14n, IDs and instants aside. Signing and encryption are
``InProcessXmlSecBackend.seal_tree`` (python-xmlsec), as before.
"""

from __future__ import annotations

import copy
import datetime as dt
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from lxml import etree

from federation.attribute_converters import NameMatchedConverter
from federation.errors import ConfigurationError
from federation.xml_security import SAML_NS, SAMLP_NS

XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
XS_NS = "http://www.w3.org/2001/XMLSchema"
NAMEID_FORMAT_ENTITY = "urn:oasis:names:tc:SAML:2.0:nameid-format:entity"
NAMEID_FORMAT_PERSISTENT = "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent"
STATUS_SUCCESS = "urn:oasis:names:tc:SAML:2.0:status:Success"
CM_BEARER = "urn:oasis:names:tc:SAML:2.0:cm:bearer"
_NSMAP = {"samlp": SAMLP_NS, "saml": SAML_NS, "xsi": XSI_NS}
_XS_STRING_NSMAP = {"xs": XS_NS}
_XSI_TYPE = f"{{{XSI_NS}}}type"


def _saml(name: str) -> str:
    return f"{{{SAML_NS}}}{name}"


def _samlp(name: str) -> str:
    return f"{{{SAMLP_NS}}}{name}"


def saml_instant(moment: dt.datetime) -> str:
    """xs:dateTime in UTC to the second, as pysaml2 writes it (SAML core §1.3.3)."""
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def new_id() -> str:
    """An xs:ID (NCName) with 128 random bits (SAML core §1.3.4)."""
    return f"_{secrets.token_hex(16)}"


@dataclass(frozen=True)
class AttributeName:
    name: str
    name_format: str


@dataclass(frozen=True)
class ResponseFields:
    """What changes from one Response to the next."""

    in_response_to: str
    destination: str  # the ACS URL, from the SP's metadata
    audience: str  # the SP's entity ID
    subject: str
    authn_instant: dt.datetime
    issued_at: dt.datetime
    lifetime: dt.timedelta
    attributes: Sequence[tuple[str, Sequence[str]]]  # (FriendlyName, values), in release order


@dataclass(frozen=True)
class BuiltResponse:
    root: etree._Element  # samlp:Response, unsigned, exactly one saml:Assertion
    session_index: str


class ResponseTemplate:
    """The Response skeleton of one IdP, parsed once per worker; :meth:`build` fills in a copy."""

    def __init__(self, entity_id: str, authn_context_class: str, names: Mapping[str, AttributeName]) -> None:
        """``names``: by lowercased FriendlyName (:func:`attribute_names`)."""
        self.entity_id = entity_id
        self._names = dict(names)
        root = etree.Element(_samlp("Response"), nsmap=_NSMAP)
        root.set("Version", "2.0")
        self._issuer(root)
        status = etree.SubElement(root, _samlp("Status"))
        etree.SubElement(status, _samlp("StatusCode")).set("Value", STATUS_SUCCESS)
        assertion = etree.SubElement(root, _saml("Assertion"))
        assertion.set("Version", "2.0")
        self._issuer(assertion)
        subject = etree.SubElement(assertion, _saml("Subject"))
        name_id = etree.SubElement(subject, _saml("NameID"))
        name_id.set("NameQualifier", entity_id)
        name_id.set("Format", NAMEID_FORMAT_PERSISTENT)
        confirmation = etree.SubElement(subject, _saml("SubjectConfirmation"))
        confirmation.set("Method", CM_BEARER)
        etree.SubElement(confirmation, _saml("SubjectConfirmationData"))
        conditions = etree.SubElement(assertion, _saml("Conditions"))
        restriction = etree.SubElement(conditions, _saml("AudienceRestriction"))
        etree.SubElement(restriction, _saml("Audience"))
        statement = etree.SubElement(assertion, _saml("AuthnStatement"))
        context = etree.SubElement(statement, _saml("AuthnContext"))
        etree.SubElement(context, _saml("AuthnContextClassRef")).text = authn_context_class
        self._skeleton = root

    def _issuer(self, parent: etree._Element) -> None:
        issuer = etree.SubElement(parent, _saml("Issuer"))
        issuer.set("Format", NAMEID_FORMAT_ENTITY)
        issuer.text = self.entity_id

    def build(self, fields: ResponseFields) -> BuiltResponse:
        root = copy.deepcopy(self._skeleton)
        _, _, assertion = root
        _, subject, conditions, statement = assertion
        name_id, confirmation = subject
        (confirmation_data,) = confirmation
        ((audience,),) = conditions
        issued = saml_instant(fields.issued_at)
        expires = saml_instant(fields.issued_at + fields.lifetime)
        root.set("ID", new_id())
        root.set("InResponseTo", fields.in_response_to)
        root.set("IssueInstant", issued)
        root.set("Destination", fields.destination)
        assertion.set("ID", new_id())
        assertion.set("IssueInstant", issued)
        name_id.set("SPNameQualifier", fields.audience)
        name_id.text = fields.subject
        confirmation_data.set("NotOnOrAfter", expires)
        confirmation_data.set("Recipient", fields.destination)
        confirmation_data.set("InResponseTo", fields.in_response_to)
        conditions.set("NotBefore", issued)
        conditions.set("NotOnOrAfter", expires)
        audience.text = fields.audience
        session_index = new_id()
        statement.set("AuthnInstant", saml_instant(fields.authn_instant))
        statement.set("SessionIndex", session_index)
        if fields.attributes:
            attribute_statement = etree.SubElement(assertion, _saml("AttributeStatement"))
            for friendly_name, values in fields.attributes:
                attribute_name = self._names.get(friendly_name.lower())
                if attribute_name is None:
                    raise ConfigurationError(f"attribut {friendly_name} absent de federation/attributemaps")
                attribute = etree.SubElement(attribute_statement, _saml("Attribute"))
                attribute.set("Name", attribute_name.name)
                attribute.set("NameFormat", attribute_name.name_format)
                attribute.set("FriendlyName", friendly_name)
                for value in values:
                    element = etree.SubElement(attribute, _saml("AttributeValue"), nsmap=_XS_STRING_NSMAP)
                    element.set(_XSI_TYPE, "xs:string")
                    element.text = value
        return BuiltResponse(root, session_index)


def attribute_names(converters: Sequence[Any]) -> dict[str, AttributeName]:
    """Name and NameFormat of every FriendlyName (lowercased) of pysaml2's attribute maps, as
    ``federation.attribute_converters.NameMatchedConverter`` gives them (the first map that holds
    the name)."""
    names: dict[str, AttributeName] = {}
    for converter in converters:
        if isinstance(converter, NameMatchedConverter):
            continue
        for friendly_name, name in (converter._to or {}).items():
            names.setdefault(friendly_name, AttributeName(name, converter.name_format))
    return names
