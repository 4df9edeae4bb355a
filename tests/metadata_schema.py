"""The OASIS SAML 2.0 metadata schema (with the algorithm-support extension's), from pysaml2's
package data only: nothing is downloaded at test time."""

from __future__ import annotations

import functools
from importlib.resources import files

import saml2.data.schemas
import xmlschema

MD = "urn:oasis:names:tc:SAML:2.0:metadata"
ALG = "urn:oasis:names:tc:SAML:metadata:algsupport"
_SCHEMAS = {
    "http://www.w3.org/XML/1998/namespace": "xml.xsd",
    "http://www.w3.org/2001/04/xmlenc#": "xenc-schema.xsd",
    "http://www.w3.org/2009/xmlenc11#": "xenc-schema-11.xsd",
    "http://www.w3.org/2000/09/xmldsig#": "xmldsig-core-schema.xsd",
    "urn:oasis:names:tc:SAML:2.0:assertion": "saml-schema-assertion-2.0.xsd",
    MD: "saml-schema-metadata-2.0.xsd",
    ALG: "sstc-saml-metadata-algsupport-v1.0.xsd",
}


@functools.cache
def metadata_schema() -> xmlschema.XMLSchema:
    schemas = files(saml2.data.schemas)
    return xmlschema.XMLSchema(
        str(schemas.joinpath(_SCHEMAS[MD])),
        locations={ns: str(schemas.joinpath(name)) for ns, name in _SCHEMAS.items()},
        allow="sandbox",
        use_fallback=False,
    )
