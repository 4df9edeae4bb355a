"""pysaml2 attribute converters that send each attribute with the NameFormat of its own map.

pysaml2 7.5 builds an assertion's AttributeStatement with one converter, the one of the SP's
``name_form`` (URI by default): an attribute of the basic map (``FrEduVecteur``, ``FrEduCtRefId``)
then goes out as ``Name="FrEduVecteur"`` with the URI NameFormat, a Name that is no URI.
:func:`name_matched` puts first a URI-format converter that hands each attribute to the map that
holds its name, so an OID Name travels as ``uri`` and a plain Name as ``basic``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from saml2.attribute_converter import AttributeConverter
from saml2.saml import NAME_FORMAT_URI

from federation.errors import ConfigurationError


class NameMatchedConverter(AttributeConverter):
    def __init__(self, converters: Sequence[AttributeConverter]) -> None:
        super().__init__(NAME_FORMAT_URI)
        self._converters = [c for c in converters if not isinstance(c, NameMatchedConverter)]
        # What the other lookups (requested attributes, policy) read: the URI map's tables.
        for converter in self._converters:
            if converter.name_format == NAME_FORMAT_URI:
                self._to, self._fro = converter._to, converter._fro

    def to_(self, attrvals: Mapping[str, Any]) -> list[Any]:
        attributes: list[Any] = []
        for key, value in attrvals.items():
            converter = next((c for c in self._converters if c._to and key.lower() in c._to), None)
            if converter is None:
                raise ConfigurationError(f"attribut {key} absent de federation/attributemaps")
            attributes += converter.to_({key: value})
        return attributes


def name_matched(converters: Sequence[AttributeConverter]) -> list[AttributeConverter]:
    """``converters`` with :class:`NameMatchedConverter` first (pysaml2's ``from_local`` takes it)."""
    return [NameMatchedConverter(converters), *converters]
