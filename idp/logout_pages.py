"""The pages that end a logout at ÉduConnect, shared by « Se déconnecter », SAML Single Logout
(idp/logout_views.py) and OpenID Connect RP-initiated logout (idp/oidc/views.py)."""

from __future__ import annotations

from dataclasses import replace
from urllib.parse import urlsplit

from flask import redirect, render_template, url_for
from flask.typing import ResponseReturnValue

from federation.web import allow_form_action, allow_frames
from idp.services import services
from idp.single_logout import PARTICIPANT_WAIT_SECONDS, FinishedLogout, Frame, LogoutInProgress


def progress_page(progress: LogoutInProgress) -> ResponseReturnValue:
    """The participants' front-channel logouts in hidden frames, or the answer at once."""
    finish_url = url_for("logout.finish", logout_id=progress.logout_id)
    if not progress.frames:
        return _answer_or_page(progress.logout_id)
    # The SP's origin too for a posted LogoutRequest: the frame goes there once our page posts it.
    allow_frames("'self'", *(_origin(frame.url) for frame in progress.frames))
    frames = [replace(frame, url=_frame_src(frame)) for frame in progress.frames]
    return render_template(
        "logout_progress.html", frames=frames, next_url=finish_url, wait=PARTICIPANT_WAIT_SECONDS
    )


def _frame_src(frame: Frame) -> str:
    """What a frame loads first: a LogoutRequest sent by HTTP-POST is posted by our own page."""
    if frame.posted_message_id is None:
        return frame.url
    return url_for("logout.post_logout_request", message_id=frame.posted_message_id)


def _answer_or_page(logout_id: str) -> ResponseReturnValue:
    finished = services().logout.finish(logout_id)
    return answer(finished) if finished else render_template("logged_out.html")


def answer(finished: FinishedLogout) -> ResponseReturnValue:
    """A LogoutResponse to the SP that asked, the client's post-logout URI, or our own page."""
    initiator = finished.initiator
    if initiator.saml_request is not None:
        outgoing = services().logout.saml.response(initiator.saml_request, finished.complete)
        if not outgoing.fields:
            return redirect(outgoing.url)
        allow_form_action(outgoing.url)
        return render_template("saml_post.html", action=outgoing.url, fields=outgoing.fields)
    if initiator.redirect_url:
        return redirect(initiator.redirect_url)
    return render_template("logged_out.html", partial=not finished.complete)


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"
