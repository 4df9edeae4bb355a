"""ATEN domain: parents, their children vectors, password checks and login throttling.

Imports no flask, saml2 or ldap3 (STYLE "layers point one way"): directory backends implement
:class:`aten_adapter.domain.parents.ParentDirectory`, the SAML adapter only translates.
"""
