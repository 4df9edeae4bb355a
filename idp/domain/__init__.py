"""ÉduConnect's domain: accounts, password rule, authentication. No flask, saml2, sqlalchemy or redis."""
