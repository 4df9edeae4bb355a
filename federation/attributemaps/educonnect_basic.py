"""``FrEduVecteur`` has no OID in ÉduConnect: it travels with the basic name format (DESIGN §4)."""

MAP = {
    "identifier": "urn:oasis:names:tc:SAML:2.0:attrname-format:basic",
    "fro": {"FrEduVecteur": "FrEduVecteur"},
    "to": {"FrEduVecteur": "FrEduVecteur"},
}
