"""SAML attribute names of ÉduConnect/ATEN in the URI name format (DESIGN §4).

Loaded by pysaml2's ``ac_factory`` from this directory (module names must be unique on sys.path).
"""

X500ATTR_OID = "urn:oid:2.5.4."
FREDU_OID = "urn:oid:1.3.6.1.4.1.20326.10.999.1."
MAIL_OID = "urn:oid:0.9.2342.19200300.100.1.3"

MAP = {
    "identifier": "urn:oasis:names:tc:SAML:2.0:attrname-format:uri",
    "fro": {
        X500ATTR_OID + "4": "sn",
        X500ATTR_OID + "42": "givenName",
        MAIL_OID: "mail",
        FREDU_OID + "57": "FrEduCtId",
        FREDU_OID + "7": "FrEduCtPersonAffiliation",
        FREDU_OID + "6": "FrEduCtDateConnexion",
        FREDU_OID + "5": "FrEduUrlRetour",
    },
    "to": {
        "sn": X500ATTR_OID + "4",
        "givenName": X500ATTR_OID + "42",
        "mail": MAIL_OID,
        "FrEduCtId": FREDU_OID + "57",
        "FrEduCtPersonAffiliation": FREDU_OID + "7",
        "FrEduCtDateConnexion": FREDU_OID + "6",
        "FrEduUrlRetour": FREDU_OID + "5",
    },
}
