"""The OASIS SAML 2.0 protocol schema in libxml2, loaded once per process and offline.

pysaml2 ships the schemas (``saml2/data/schemas``); they import the XML Signature and XML
Encryption schemas by their W3C URLs, which are mapped here to the shipped files: nothing is
fetched (``no_network``), and a missing file stops the start instead of weakening the check.
Validation is what pysaml2's object model did with ``valid_instance`` on an incoming message
(every element and attribute of its type, required attributes present), in C: a few µs.
"""

from __future__ import annotations

import functools
from importlib.resources import files
from pathlib import Path
from typing import Any

import saml2.data.schemas
from lxml import etree

from federation.errors import ConfigurationError

SCHEMA_DIR = Path(str(files(saml2.data.schemas)))
_W3C_IMPORTS = {
    "http://www.w3.org/TR/2002/REC-xmldsig-core-20020212/xmldsig-core-schema.xsd": "xmldsig-core-schema.xsd",
    "http://www.w3.org/TR/2002/REC-xmlenc-core-20021210/xenc-schema.xsd": "xenc-schema.xsd",
}


class _ShippedSchemas(etree.Resolver):
    def resolve(self, url: str | None, pubid: str | None, context: Any) -> Any:
        name = _W3C_IMPORTS.get(url or "")
        return self.resolve_filename(str(SCHEMA_DIR / name), context) if name else None


@functools.cache
def protocol_schema() -> etree.XMLSchema:
    parser = etree.XMLParser(no_network=True, resolve_entities=False)
    parser.resolvers.add(_ShippedSchemas())
    try:
        return etree.XMLSchema(etree.parse(str(SCHEMA_DIR / "saml-schema-protocol-2.0.xsd"), parser))
    except (OSError, etree.XMLSchemaParseError, etree.XMLSyntaxError) as exc:
        raise ConfigurationError(f"schéma SAML 2.0 de pysaml2 illisible : {exc}") from exc


def schema_errors(element: etree._Element) -> str | None:
    """``None`` when ``element`` is valid for the SAML protocol schema, else the first error."""
    schema = protocol_schema()
    if schema.validate(element):
        return None
    error = schema.error_log.last_error
    return error.message if error is not None else "invalid"
