"""What ATEN says about a parent to ÉduConnect (DESIGN §4 attribute names).

``sn``, ``givenName``, ``mail`` when the directory knows it, and one ``FrEduVecteur`` per child,
exactly as stored. The persistent NameID is not an attribute: the SAML adapter puts
:attr:`Parent.persistent_id` in the Subject.
"""

from __future__ import annotations

from aten_adapter.domain.parents import Parent


def released_attributes(parent: Parent) -> dict[str, list[str]]:
    attributes = {"sn": [parent.family_name], "givenName": [parent.given_name]}
    if parent.children:
        attributes["FrEduVecteur"] = [child.value for child in parent.children]
    if parent.mail:
        attributes["mail"] = [parent.mail]
    return attributes
