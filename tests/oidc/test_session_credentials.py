"""OIDC authorization and a new password: a session that signed in with the previous password is
signed out (``prompt=none`` gets ``login_required``, otherwise the login page), even when
``idp.account_sessions`` never recorded it."""

from __future__ import annotations

import datetime as dt

from idp.domain.passwords import hash_password
from idp.domain.self_service import AuditRecord


def change_password_elsewhere(op, account) -> None:
    """The password changed from another browser, this session not reached by the end of sessions."""
    now = dt.datetime.now(dt.UTC)
    audit = AuditRecord("mot_de_passe_modifie", account.id, account.identifier, "10.0.0.9", "", now)
    repository = op.extensions["idp-self-service"].repository
    repository.reset_password(None, account.id, hash_password("Vacances-2027!"), now, audit)


def test_a_new_password_signs_the_oidc_session_out(op, rp, parent):
    assert "code" in rp.sign_in(parent)
    assert "code" in rp.callback(rp.follow_to_client(rp.authorize(rp.request(prompt="none"))))  # signed in
    change_password_elsewhere(op, parent)
    answer = rp.callback(rp.follow_to_client(rp.authorize(rp.request(prompt="none"))))
    assert answer.get("error") == "login_required" and "code" not in answer
    login = rp.follow_to_client(rp.authorize(rp.request()))
    assert login.status_code == 200 and login.request.path == "/connexion"
