"""The XML-security algorithms the three services accept and emit: one list, used by the checks
and published in metadata.

SAML V2.0 Metadata Extensions for Algorithm Support Version 1.0 (OASIS, 2011) §2.3: an entity
lists in ``<md:Extensions>`` the digest (``alg:DigestMethod``) and signature (``alg:SigningMethod``)
algorithms it supports, in order of preference; the encryption algorithms it can decrypt go into
its encryption ``<md:KeyDescriptor>`` as ``<md:EncryptionMethod>`` (SAML metadata §2.4.1.1).

What is accepted is exactly these lists: the Redirect binding's ``SigAlg`` (``federation.saml_idp``,
``federation.saml_logout``), every enveloped XML signature (``federation.xml_security``'s profile
check, run by both crypto backends) and the in-process decryption (AES-GCM data, RSA-OAEP keys).
What we emit is the first of each list (RSA-SHA256, SHA-256, AES-256-GCM, RSA-OAEP MGF1P).
No SHA-1 (XML-DSig 1.1 §6.2, §6.4), no MD5, no DSA; ECDSA is not offered: pysaml2 verifies
HTTP-Redirect signatures with RSA keys only, and one list holds for both bindings.
"""

from __future__ import annotations

NAMESPACE = "urn:oasis:names:tc:SAML:metadata:algsupport"

RSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
RSA_SHA384 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha384"
RSA_SHA512 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512"
SHA256 = "http://www.w3.org/2001/04/xmlenc#sha256"
SHA384 = "http://www.w3.org/2001/04/xmldsig-more#sha384"
SHA512 = "http://www.w3.org/2001/04/xmlenc#sha512"
AES256_GCM = "http://www.w3.org/2009/xmlenc11#aes256-gcm"
AES128_GCM = "http://www.w3.org/2009/xmlenc11#aes128-gcm"
RSA_OAEP_MGF1P = "http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p"
RSA_OAEP = "http://www.w3.org/2009/xmlenc11#rsa-oaep"

# In order of preference; the first is the one we sign with.
SIGNATURE_ALGORITHMS = (RSA_SHA256, RSA_SHA384, RSA_SHA512)
DIGEST_ALGORITHMS = (SHA256, SHA384, SHA512)
# What an encryption key of ours can decrypt (in-process backend): data, then key transport.
DATA_ENCRYPTION_ALGORITHMS = (AES256_GCM, AES128_GCM)
KEY_TRANSPORT_ALGORITHMS = (RSA_OAEP_MGF1P, RSA_OAEP)
