"""Where one SSO's CPU goes, part by part (issue 17 item 4), as measured for issue 7.

The IdP's Flask app runs in this process on the bench's deployment (its PostgreSQL and Redis);
an ENT app in process mints each fresh signed AuthnRequest; one parent signs in once. Each SSO
(``GET /saml/sso`` for the signed-in parent → the auto-POST page) is timed with
``time.thread_time`` around each part of the code path; a part's time excludes the parts called
inside it, "Flask, Werkzeug and the rest of the view" is the request's total minus the parts.
A full garbage collection runs, untimed, before each SSO.
gunicorn (0.35-0.45 ms in issue 7) and the kernel's socket work are not in it.

Besides the parts, the Redis commands and SQL statements of one SSO are counted.

``python -m bench.sso_parts --compare response`` times the SSOs of the lxml template and of
pysaml2's object model (``build_response_with_pysaml2``) interleaved in one run, side by side.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import statistics
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

PARTS = (
    "AuthnRequest: inflate, signature, parse, checks",
    "one-time AuthnRequest store (Redis)",
    "SQL: account, subject, children",
    "Response: build",
    "Response: sign and encrypt (python-xmlsec)",
    "session read and write (Redis)",
    "Single Logout index (Redis)",
    "page (Jinja)",
    "Flask, Werkzeug and the rest of the view",
)
SSO_COUNT = 300
SSO_PARTS_COUNT = SSO_COUNT  # in bench (s), times --scale
WARM_UP = 30


@dataclass
class PartTimer:
    """Self time (``thread_time``) per part: a nested part's time is not its caller's."""

    totals: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    _stack: list[list[float]] = field(default_factory=list)

    @contextlib.contextmanager
    def part(self, name: str) -> Iterator[None]:
        frame = [time.thread_time(), 0.0]  # start, time of the parts nested inside
        self._stack.append(frame)
        try:
            yield
        finally:
            self._stack.pop()
            spent = time.thread_time() - frame[0]
            self.totals[name] += spent - frame[1]
            if self._stack:
                self._stack[-1][1] += spent

    def wrap(self, owner: Any, attribute: str, name: str) -> None:
        original = getattr(owner, attribute)

        def timed(*args: Any, **kwargs: Any) -> Any:
            with self.part(name):
                return original(*args, **kwargs)

        setattr(owner, attribute, timed)


@dataclass(frozen=True)
class Split:
    per_sso_ms: dict[str, float]
    total_ms: float
    redis_commands: float
    sql_statements: float
    count: int


def _instrument(app: Any, timer: PartTimer, counts: Counter[str]) -> None:
    import redis
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    import idp.views
    from federation.xml_security import InProcessXmlSecBackend
    from idp.saml_idp import SamlIdentityProvider

    svc = app.extensions["idp"]
    timer.wrap(svc.saml, "parse_redirect_request", PARTS[0])
    timer.wrap(svc.authn_requests, "present", PARTS[1])
    timer.wrap(svc.authn_requests, "answer", PARTS[1])
    timer.wrap(svc.release, "for_audience", PARTS[2])
    timer.wrap(svc.subjects, "ensure_pairwise_subject", PARTS[2])
    # The whole builder (pysaml2's: also its str() and the SessionIndex read); sealing nested.
    timer.wrap(SamlIdentityProvider, "build_response", PARTS[3])
    timer.wrap(SamlIdentityProvider, "build_response_with_pysaml2", PARTS[3])
    timer.wrap(InProcessXmlSecBackend, "seal_tree", PARTS[4])
    timer.wrap(InProcessXmlSecBackend, "seal_response", PARTS[4])
    timer.wrap(app.session_interface, "open_session", PARTS[5])
    timer.wrap(app.session_interface, "save_session", PARTS[5])
    timer.wrap(svc.logout, "join", PARTS[6])
    timer.wrap(idp.views, "render_template", PARTS[7])
    original = redis.Redis.execute_command

    def counted(self: Any, *args: Any, **options: Any) -> Any:
        counts["redis"] += 1
        return original(self, *args, **options)

    redis.Redis.execute_command = counted  # type: ignore[method-assign]
    event.listen(Engine, "before_cursor_execute", lambda *args: counts.update(["sql"]))


def _signed_in(idp_client: Any, base_url: str, identifier: str, password: str) -> None:
    from bench.loopback_http import hidden_field

    page = idp_client.get("/connexion", base_url=base_url)
    token = hidden_field(page.data, "csrf_token")
    reply = idp_client.post(
        "/connexion",
        base_url=base_url,
        headers={"Origin": base_url, "Referer": f"{base_url}/connexion"},
        data={"csrf_token": token, "identifiant": identifier, "mot_de_passe": password},
    )
    if reply.status_code != 302:
        raise RuntimeError(f"bench sign-in refused: {reply.status_code}")


def _authn_request(ent: Any) -> str:
    reply = ent.test_client().get("/connexion/educonnect", base_url=ent.config["EDUCONNECT_BASE_URL"])
    if reply.status_code != 302:
        raise RuntimeError(f"ENT /connexion/educonnect: {reply.status_code}")
    target = urlsplit(reply.location)
    return f"{target.path}?{target.query}"


def measure_split(env: dict[str, str], identifier: str, password: str, count: int = SSO_COUNT) -> Split:
    return _measure(env, identifier, password, count, [lambda app: None])[0]


def _measure(
    env: dict[str, str], identifier: str, password: str, count: int, setups: list[Callable[[Any], None]]
) -> list[Split]:
    from federation.settings import load_settings
    from idp import create_app as create_idp
    from sp_ent import create_app as create_ent

    idp_settings, ent_settings = load_settings("idp", env), load_settings("ent", env)
    idp_app, ent_app = create_idp(idp_settings), create_ent(ent_settings)
    ent_app.config["EDUCONNECT_BASE_URL"] = ent_settings.base_url
    idp_client = idp_app.test_client()
    _signed_in(idp_client, idp_settings.base_url, identifier, password)
    timers = [PartTimer() for _ in setups]
    counts = [Counter[str]() for _ in setups]
    totals: list[list[float]] = [[] for _ in setups]
    probe = PartTimer()
    probe_counts: Counter[str] = Counter()
    _instrument(idp_app, probe, probe_counts)
    paths = [_authn_request(ent_app) for _ in range(count + WARM_UP)]
    for index, path in enumerate(paths):
        variant = index % len(setups)
        setups[variant](idp_app)
        probe.totals.clear()
        probe_counts.clear()
        # Untimed: each SSO starts with empty GC generations, so the collections its own garbage
        # triggers are its own (interleaved, one variant would otherwise pay for the other's).
        gc.collect()
        start = time.thread_time()
        reply = idp_client.get(path, base_url=idp_settings.base_url)
        elapsed = time.thread_time() - start
        if reply.status_code != 200 or b'name="SAMLResponse"' not in reply.data:
            raise RuntimeError(f"SSO answered {reply.status_code}")
        if index < WARM_UP:
            continue
        for name, value in probe.totals.items():
            timers[variant].totals[name] += value
        counts[variant].update(probe_counts)
        totals[variant].append(elapsed)
    splits = []
    for timer, counted, times in zip(timers, counts, totals, strict=True):
        done = len(times)
        per_sso = {name: 1000 * timer.totals.get(name, 0.0) / done for name in PARTS[:-1]}
        total = 1000 * statistics.fmean(times)
        per_sso[PARTS[-1]] = total - sum(per_sso.values())
        splits.append(Split(per_sso, total, counted["redis"] / done, counted["sql"] / done, done))
    return splits


def split_lines(split: Split, label: str = "ÉduConnect") -> list[str]:
    """The report's lines: the whole, then one per part (ms per SSO and share of the whole)."""
    lines = [
        f"per-part split of one SSO, {label}: {split.total_ms:.2f} ms of thread CPU per SSO in process "
        f"({split.count} SSOs after {WARM_UP} of warm-up; gunicorn and the kernel's socket work not "
        f"included), {split.redis_commands:.1f} Redis commands and {split.sql_statements:.1f} SQL "
        "statements per SSO:"
    ]
    lines += [
        f"SSO part, {label} — {name}: {ms:.2f} ms ({100 * ms / split.total_ms:.0f} %)"
        for name, ms in split.per_sso_ms.items()
    ]
    return lines


COMPARISONS = {
    "response": "the Response built by pysaml2's object model (build_response_with_pysaml2)",
    "answer-read": "the one-time store reading the answer again before storing it (no Presentation)",
    "authnrequest": "the HTTP-Redirect AuthnRequest read by pysaml2's parse_authn_request",
}


def compare(env: dict[str, str], identifier: str, password: str, what: str, count: int) -> list[Split]:
    """The same SSOs, interleaved A B A B…: A as the branch is, B with the old code path ``what``."""
    if what == "response":
        return _measure(env, identifier, password, count, [_template_response, _pysaml2_response])
    if what == "answer-read":
        return _measure(env, identifier, password, count, *_answer_read_variants())
    if what == "authnrequest":
        return _measure(env, identifier, password, count, *_authnrequest_variants())
    raise ValueError(f"unknown comparison {what!r}")


def _template_response(app: Any) -> None:
    vars(app.extensions["idp"].saml).pop("build_response", None)


def _pysaml2_response(app: Any) -> None:
    saml = app.extensions["idp"].saml

    def reference(request: Any, subject: str, attributes: Any, authn_instant: Any) -> Any:
        released = saml.providers[request.sp_entity_id].attributes
        kept = {name: values for name, values in attributes.items() if name in released}
        return saml.build_response_with_pysaml2(request, subject, kept, authn_instant)

    saml.build_response = reference


def _authnrequest_variants() -> tuple[list[Callable[[Any], None]]]:
    """The reading before issue 17 item 3 as variant B: the same checks around pysaml2's parse."""
    from saml2 import BINDING_HTTP_REDIRECT

    from federation.saml_idp import _issuer_of, _parsed_request, _RequestFields, inflate_redirect_message
    from idp.saml_idp import SamlIdentityProvider

    old = {"on": False}
    original = SamlIdentityProvider.parse_redirect_request

    def parse(self: Any, args: Any, now: Any) -> Any:
        if not old["on"]:
            return original(self, args, now)
        issuer = _issuer_of(_parsed_request(inflate_redirect_message(args["SAMLRequest"])))
        parsed = self.server.parse_authn_request(
            args["SAMLRequest"],
            BINDING_HTTP_REDIRECT,
            relay_state=args.get("RelayState"),
            sigalg=args["SigAlg"],
            signature=args["Signature"],
        )
        return self._checked_request(
            _RequestFields.from_pysaml2(parsed.message), issuer, args.get("RelayState"), now
        )

    SamlIdentityProvider.parse_redirect_request = parse  # type: ignore[method-assign]
    return ([lambda app: old.update(on=False), lambda app: old.update(on=True)],)


def _answer_read_variants() -> tuple[list[Callable[[Any], None]]]:
    from federation.authn_requests_once import AuthnRequestsOnce

    old = {"on": False}
    original = AuthnRequestsOnce.answer

    def answer(self: Any, request: Any, browser_id: str, now: Any, build: Any, presented: Any = None) -> Any:
        return original(self, request, browser_id, now, build, None if old["on"] else presented)

    AuthnRequestsOnce.answer = answer  # type: ignore[method-assign]
    return ([lambda app: old.update(on=False), lambda app: old.update(on=True)],)


def main() -> None:
    from bench.deployment import PASSWORD, deployment

    parser = argparse.ArgumentParser(prog="python -m bench.sso_parts")
    parser.add_argument("--postgres-url", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/13")
    parser.add_argument("--count", type=int, default=SSO_COUNT)
    parser.add_argument("--compare", choices=sorted(COMPARISONS), help="A/B against an old code path")
    args = parser.parse_args()
    with deployment(args.postgres_url, args.redis_url, accounts=1) as dep:
        env = dep.env("inprocess")
        identifier = dep.identifiers[0]
        if args.compare:
            for label, split in zip(
                ("new", "old"), compare(env, identifier, PASSWORD, args.compare, args.count), strict=True
            ):
                print("\n".join(split_lines(split, label)))
        else:
            print("\n".join(split_lines(measure_split(env, identifier, PASSWORD, args.count))))


if __name__ == "__main__":
    main()
