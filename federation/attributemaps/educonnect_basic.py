"""``FrEduVecteur`` and ``FrEduCtRefId`` have no OID in ÉduConnect: each travels under its plain
name with the basic name format (DESIGN §4), every OID-named attribute with the URI one
(``educonnect_uri``): a NameFormat always matches the form of its Name.
"""

MAP = {
    "identifier": "urn:oasis:names:tc:SAML:2.0:attrname-format:basic",
    "fro": {"FrEduVecteur": "FrEduVecteur", "FrEduCtRefId": "FrEduCtRefId"},
    "to": {"FrEduVecteur": "FrEduVecteur", "FrEduCtRefId": "FrEduCtRefId"},
}
