"""The OASIS SAML 2.0 schemas, as pysaml2 ships them (``saml2/data/schemas``), in one validator.

pysaml2's own validator (``saml2.xml.schema``) starts from the protocol schema only; a metadata
document needs the metadata schema, and its extensions (SAML V2.0 Metadata Extensions for
Algorithm Support, Metadata UI, Metadata Attributes) are checked only if their schemas are loaded
too (``Extensions`` is ``processContents="lax"``). So one in-memory schema imports them all, from
the files pysaml2 installed: ``allow="sandbox"`` refuses any resource outside that folder, so
nothing is ever fetched from the network.
"""

from __future__ import annotations

import functools
from importlib.resources import files
from pathlib import Path

import saml2.data.schemas
from lxml import etree
from xmlschema import XMLSchema

SCHEMA_DIR = Path(str(files(saml2.data.schemas)))
# Namespace -> schema file: the SAML 2.0 core, metadata and the metadata extensions a service may
# publish, and what they import (XML, XML Signature, XML Encryption 1.0 and 1.1).
SCHEMA_FILES = {
    "urn:oasis:names:tc:SAML:2.0:protocol": "saml-schema-protocol-2.0.xsd",
    "urn:oasis:names:tc:SAML:2.0:assertion": "saml-schema-assertion-2.0.xsd",
    "urn:oasis:names:tc:SAML:2.0:metadata": "saml-schema-metadata-2.0.xsd",
    "urn:oasis:names:tc:SAML:metadata:algsupport": "sstc-saml-metadata-algsupport-v1.0.xsd",
    "urn:oasis:names:tc:SAML:metadata:ui": "sstc-saml-metadata-ui-v1.0.xsd",
    "urn:oasis:names:tc:SAML:metadata:attribute": "sstc-metadata-attr.xsd",
    "http://www.w3.org/XML/1998/namespace": "xml.xsd",
    "http://www.w3.org/2000/09/xmldsig#": "xmldsig-core-schema.xsd",
    "http://www.w3.org/2001/04/xmlenc#": "xenc-schema.xsd",
    "http://www.w3.org/2009/xmlenc11#": "xenc-schema-11.xsd",
}


@functools.cache
def saml_schema() -> XMLSchema:
    imports = "".join(
        f'<xs:import namespace="{namespace}" schemaLocation="{name}"/>'
        for namespace, name in SCHEMA_FILES.items()
    )
    wrapper = (
        '<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema"'
        f' targetNamespace="urn:x-educonnect-bridge:tests:saml-schemas">{imports}</xs:schema>'
    )
    return XMLSchema(
        wrapper,
        base_url=str(SCHEMA_DIR),
        locations={namespace: str(SCHEMA_DIR / name) for namespace, name in SCHEMA_FILES.items()},
        validation="strict",
        allow="sandbox",
        use_fallback=False,
    )


def validate(xml: bytes | str) -> None:
    """Raise ``xmlschema.XMLSchemaValidationError`` unless ``xml`` is valid for the SAML schemas."""
    data = xml.encode() if isinstance(xml, str) else xml
    saml_schema().validate(etree.fromstring(data))
