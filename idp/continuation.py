"""Where a signed-in parent goes next, whatever brought them here (SAML SSO, OIDC, transition).

Steps that must happen before any answer to an ENT (e.g. « Ajout d'élèves ») register a
callable in ``app.extensions["idp_steps"]``: given the account, it returns the URL of its page
or None. Then the pending SAML request is answered, or the pending OIDC authorization resumed
(``session["next_url"]``), or the parent sees their account page.

The steps belong to the login (DESIGN §2 C: « asked again at the next login »): once every step
has let this session through, later SSO requests of the same session skip them. A login starts a
new session (``idp.views.start_authenticated_session``), which asks again.
"""

from __future__ import annotations

from collections.abc import Callable

from flask import Flask, current_app, session, url_for

from idp.domain.accounts import Account

PENDING_SAML_KEY = "pending_authn"
NEXT_URL_KEY = "next_url"
STEPS_PASSED_KEY = "steps_passed"
LOGIN_HINT_KEY = "login_hint"  # OIDC login_hint: the identifier the login page fills in

Step = Callable[[Account], str | None]


def register_step(app: Flask, step: Step) -> None:
    app.extensions.setdefault("idp_steps", []).append(step)


def pending_step(account: Account) -> str | None:
    if session.get(STEPS_PASSED_KEY) == account.id:
        return None
    for step in current_app.extensions.get("idp_steps", []):
        url = step(account)
        if url:
            return url
    session[STEPS_PASSED_KEY] = account.id
    return None


def set_next_url(path: str) -> None:
    """Resume this local path after login (OIDC authorization); absolute URLs are refused."""
    if not path.startswith("/") or path.startswith("//"):
        raise ValueError("next_url must be a local path")
    session[NEXT_URL_KEY] = path


def continue_url(account: Account) -> str:
    step = pending_step(account)
    if step:
        return step
    if session.get(PENDING_SAML_KEY):
        return url_for("idp.answer")
    next_url = session.pop(NEXT_URL_KEY, None)
    if isinstance(next_url, str) and next_url.startswith("/") and not next_url.startswith("//"):
        return next_url
    return url_for("idp.signed_in")
