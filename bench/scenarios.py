"""The scenarios of issue 7 item 3 and the targets of item 4.

A scenario is one function ``(Bench) -> Outcome`` plus an entry in :data:`SCENARIOS` naming the
servers it needs (started together before the first scenario runs). (c) the whole transition
flow and (e) the OIDC code exchange print "not available yet" until their features land:
adding one is writing its function and putting it in its entry.

Per-core figures come from one gunicorn worker pinned to one core (``Plan.server_cpus``) while
the load process runs on the other core; PostgreSQL and Redis are the machine's own and are not
pinned.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlencode

from bench.browser_steps import (
    ent_authn_request,
    login_body,
    login_form,
    oidc_code,
    saml_post_body,
    signed_in_idp_session,
)
from bench.deployment import (
    ATEN_PASSWORD,
    BASE_URLS,
    OIDC_CLIENT_ID,
    OIDC_CLIENT_SECRET,
    OIDC_REDIRECT_URI,
    PASSWORD,
    aten_uid,
)
from bench.harness import Bench, Clients, ServerSpec, in_lanes
from bench.load import Operation, Step
from bench.measurement import Measurement, Outcome, Target, other_cpu, ratio
from bench.overload import SERVER as OVERLOAD_SERVER
from bench.overload import overload
from bench.versus_simplesamlphp import sso_versus_simplesamlphp

SERVERS: dict[str, ServerSpec] = {
    "idp": ServerSpec("idp"),
    "idp-xmlsec1": ServerSpec("idp", crypto_backend="xmlsec1"),
    "idp-2-workers": ServerSpec("idp", workers=2, all_cpus=True),
    "ent": ServerSpec("ent"),
    "ent-xmlsec1": ServerSpec("ent", crypto_backend="xmlsec1"),
    "aten": ServerSpec("aten"),
    OVERLOAD_SERVER: ServerSpec("idp", workers=2, all_cpus=True, behind_proxy=True),
}

# Operations per timed run at --scale 1, about 20 s of each on this 2-core machine (each run also
# stops at the plan's time limit; unused prepared operations are dropped).
SSO_INPROCESS_OPS = 2500
SSO_XMLSEC1_OPS = 300
SSO_TWO_WORKERS_OPS = 3500
LOGIN_OPS = 600
BARE_ARGON2_OPS = 250
ACS_INPROCESS_OPS = 1500
ACS_XMLSEC1_OPS = 200
TRANSITION_OPS = 400
CODE_EXCHANGE_OPS = 1500  # codes live 60 s: preparation + run must fit


@dataclass(frozen=True)
class Scenario:
    key: str
    title: str
    run: Callable[[Bench], Outcome] | None  # None: not available yet
    servers: tuple[str, ...] = ()
    by_default: bool = True  # False: run only when named with --only


def sso_with_idp_session(bench: Bench) -> Outcome:
    """(a) ENT-signed AuthnRequest → GET /saml/sso, answered with the signed Response page."""
    plan, clients = bench.plan, Clients()
    ent, idp = bench.servers["ent"], bench.servers["idp"]
    identifiers = bench.dep.identifiers
    most_lanes = 2 * plan.lanes_per_worker
    # One signed-in IdP session per lane: a lane is one browser, its requests never overlap.
    sessions = bench.prepare(
        lambda i: signed_in_idp_session(clients.to(idp.port), identifiers[i % len(identifiers)], PASSWORD),
        range(most_lanes),
    )

    def fresh_request(_: int) -> str:
        return ent_authn_request(clients.to(ent.port))[1]

    def lanes_of(count: int, lanes: int) -> list[list[Operation]]:
        paths = in_lanes(bench.prepare(fresh_request, range(count)), lanes)
        return [[_sso_operation(path, sessions[i]) for path in lane] for i, lane in enumerate(paths)]

    def measure(label: str, server: str, count: int, lanes: int) -> Measurement:
        warmup = lanes_of(plan.warmup_ops_per_lane * lanes, lanes)
        return bench.measure(label, bench.servers[server], lanes_of(count, lanes), warmup)

    lanes = plan.lanes_per_worker
    fast = measure("in-process backend, 1 worker", "idp", plan.count(SSO_INPROCESS_OPS), lanes)
    slow = measure("xmlsec1 backend, 1 worker", "idp-xmlsec1", plan.count(SSO_XMLSEC1_OPS), lanes)
    two = measure(
        "in-process backend, 2 workers", "idp-2-workers", plan.count(SSO_TWO_WORKERS_OPS), most_lanes
    )
    return Outcome(
        measurements=[fast, slow, two],
        targets=[
            Target(
                "(a) in-process ÷ xmlsec1 backend, per core", ratio(fast.per_core, slow.per_core), 15, "×"
            ),
            Target("(a) signed responses per worker core", fast.per_core, 300, "/s"),
            Target(
                "(a) 2 workers on 2 cores ÷ 1 worker on 1 core",
                ratio(two.throughput, fast.throughput),
                1.7,
                "×",
            ),
        ],
        notes=[
            "one operation = GET /saml/sso: verify the ENT's redirect signature, then answer in the same "
            "request (signed Response, signed Assertion encrypted when the ENT publishes a key; "
            "HTTP-POST page)",
            "2 workers: the load process, PostgreSQL and Redis share the same 2 cores",
            "the xmlsec1 backend signs but cannot encrypt (Debian's xmlsec1 has no AES-GCM template "
            "support), so that IdP refuses an SP publishing an encryption key: it serves the ENT's "
            "signing-only metadata (as exported on xmlsec1) and its Responses carry a signed, unencrypted "
            "Assertion; the in-process run does more work per operation (the encryption) than the "
            "baseline it is compared with",
        ],
    )


def _sso_operation(sso_path: str, idp_cookie: str) -> Operation:
    return Operation(
        steps=(Step("GET", sso_path, 200, 'name="SAMLResponse"'),),
        cookie=idp_cookie,
    )


def password_login(bench: Bench) -> Outcome:
    """(b) POST /connexion with a valid password (argon2id), against bare argon2id verification."""
    plan, clients = bench.plan, Clients()
    idp = bench.servers["idp"]
    identifiers = bench.dep.identifiers

    def lanes_of(count: int) -> list[list[Operation]]:
        forms = bench.prepare(lambda _: login_form(clients.to(idp.port)), range(count))
        ops = [
            Operation(
                steps=(
                    Step(
                        "POST",
                        "/connexion",
                        302,
                        "/compte",
                        login_body(csrf_token, identifiers[i % len(identifiers)], PASSWORD),
                    ),
                ),
                cookie=cookie,
            )
            for i, (cookie, csrf_token) in enumerate(forms)
        ]
        return in_lanes(ops, plan.lanes_per_worker)

    warmup = lanes_of(plan.warmup_ops_per_lane * plan.lanes_per_worker)
    login = bench.measure("POST /connexion, 1 worker", idp, lanes_of(plan.count(LOGIN_OPS)), warmup)
    bare_run = bench.bare_argon2(min(5.0, plan.time_limit), plan.count(BARE_ARGON2_OPS))
    bare = Measurement(
        label="bare argon2id verify, same parameters",
        workers=1,
        server_cpus=plan.server_cpus,
        load_cpus="-",
        lanes=1,
        run=bare_run,
        server_cpu_seconds=bare_run.cpu,
        other_cpu=other_cpu(bare_run, plan.server_cpus, bare_run.cpu),
    )
    return Outcome(
        measurements=[login, bare],
        targets=[
            Target(
                "(b) logins ÷ bare argon2id verifications, per core",
                ratio(login.per_core, bare.per_core),
                0.8,
                "%",
            )
        ],
    )


def assertion_consumer(bench: Bench) -> Outcome:
    """(d) POST /saml/acs at the ENT with fresh valid Responses, each for a pending request."""
    plan, clients = bench.plan, Clients()
    ent, idp = bench.servers["ent"], bench.servers["idp"]
    identifier = bench.dep.identifiers[0]

    def fresh_response(_: int) -> Operation:
        idp_conn = clients.to(idp.port)
        idp_cookie = clients.remember("idp", lambda: signed_in_idp_session(idp_conn, identifier, PASSWORD))
        ent_cookie, sso_path = ent_authn_request(clients.to(ent.port))
        body = saml_post_body(idp_conn, idp_cookie, sso_path)
        return Operation(steps=(Step("POST", "/saml/acs", 302, "/accueil", body),), cookie=ent_cookie)

    def measure(label: str, server: str, count: int) -> Measurement:
        lanes = plan.lanes_per_worker
        # Prepared right before their run: the assertions are valid for 5 minutes.
        timed = in_lanes(bench.prepare(fresh_response, range(count)), lanes)
        warmup = in_lanes(bench.prepare(fresh_response, range(plan.warmup_ops_per_lane * lanes)), lanes)
        return bench.measure(label, bench.servers[server], timed, warmup)

    fast = measure("in-process backend, 1 worker", "ent", plan.count(ACS_INPROCESS_OPS))
    slow = measure("xmlsec1 backend, 1 worker", "ent-xmlsec1", plan.count(ACS_XMLSEC1_OPS))
    return Outcome(
        measurements=[fast, slow],
        targets=[
            Target("(d) in-process ÷ xmlsec1 backend, per core", ratio(fast.per_core, slow.per_core), 5, "×")
        ],
        notes=[
            "one operation = POST /saml/acs (decrypt, verify Response + Assertion signatures, consume the "
            "ID once)"
        ],
    )


def transition_flow(bench: Bench) -> Outcome:
    """(c) ENT → ÉduConnect → ATEN → ÉduConnect → ENT for parents with an ATEN account only."""
    plan = bench.plan
    names = ("ent", "idp", "aten")
    servers = [bench.servers[name] for name in names]
    hosts = {BASE_URLS[server.service]: server.port for server in servers}
    params = {
        "ent": BASE_URLS["ent"],
        "idp": BASE_URLS["idp"],
        "aten_password": ATEN_PASSWORD,
        "new_password": PASSWORD,  # the ÉduConnect password each parent chooses
    }
    lanes = plan.lanes_per_worker
    warmup_count = plan.warmup_ops_per_lane * lanes
    # Each flow creates an ÉduConnect account: every ATEN parent is used once (warm-up first).
    parents = iter(range(bench.dep.aten_parents))

    def flows(count: int) -> list[list[Operation]]:
        ops = [
            Operation(flow="transition", params={**params, "aten_uid": aten_uid(next(parents))})
            for _ in range(count)
        ]
        return in_lanes(ops, lanes)

    warmup = flows(warmup_count)
    timed = flows(min(plan.count(TRANSITION_OPS), bench.dep.aten_parents - warmup_count))
    run = bench.measure("ENT, ÉduConnect and ATEN, 1 worker each", servers, timed, warmup, hosts)
    return Outcome(
        measurements=[run],
        notes=[
            "one operation = every request of the flow: ENT « Je n'ai pas de compte Educonnect » → "
            "ÉduConnect → ATEN login (LDIF directory, {SSHA}) → signed Response to ÉduConnect → "
            "« Choisir mon mot de passe » → account created (argon2id hash) → signed Response to the "
            "ENT → ENT page",
            "the three services share the server CPU: per core = whole flows per second on that core",
        ],
    )


def oidc_code_exchange(bench: Bench) -> Outcome:
    """(e) POST /oidc/token: a fresh authorization code, its PKCE verifier, client_secret_post."""
    plan, clients = bench.plan, Clients()
    idp = bench.servers["idp"]
    identifiers = bench.dep.identifiers

    def fresh_exchange(i: int) -> Operation:
        idp_conn = clients.to(idp.port)
        idp_cookie = clients.remember(
            "idp", lambda: signed_in_idp_session(idp_conn, identifiers[i % len(identifiers)], PASSWORD)
        )
        code, verifier = oidc_code(idp_conn, idp_cookie, OIDC_CLIENT_ID, OIDC_REDIRECT_URI)
        body = urlencode(
            {
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": OIDC_REDIRECT_URI,
                "code_verifier": verifier,
                "client_id": OIDC_CLIENT_ID,
                "client_secret": OIDC_CLIENT_SECRET,
            }
        )
        return Operation(steps=(Step("POST", "/oidc/token", 200, '"id_token"', body),))

    lanes = plan.lanes_per_worker
    # Prepared right before their run: codes live for a minute or so.
    timed = in_lanes(bench.prepare(fresh_exchange, range(plan.count(CODE_EXCHANGE_OPS))), lanes)
    warmup = in_lanes(bench.prepare(fresh_exchange, range(plan.warmup_ops_per_lane * lanes)), lanes)
    exchange = bench.measure("code exchange, 1 worker", idp, timed, warmup)
    return Outcome(
        measurements=[exchange],
        notes=[
            "one operation = POST /oidc/token (client_secret_post, PKCE S256 check, single-use code, "
            "ID token signed RS256, access token stored)"
        ],
    )


SCENARIOS: tuple[Scenario, ...] = (
    Scenario(
        "a",
        "SSO for a parent who already has an IdP session",
        sso_with_idp_session,
        ("idp", "idp-xmlsec1", "idp-2-workers", "ent"),
    ),
    Scenario("b", "password login (POST /connexion, argon2id)", password_login, ("idp",)),
    Scenario(
        "c",
        "whole transition flow (ENT → IdP → ATEN → IdP → ENT)",
        transition_flow,
        ("ent", "idp", "aten"),
    ),
    Scenario(
        "d", "ENT assertion consumer (POST /saml/acs)", assertion_consumer, ("idp", "ent", "ent-xmlsec1")
    ),
    Scenario("e", "OIDC code exchange (POST /oidc/token)", oidc_code_exchange, ("idp",)),
    Scenario(
        "s",
        "SSO vs SimpleSAMLphp (issue 17: same operation, interleaved rounds)",
        sso_versus_simplesamlphp,
        ("idp", "ent"),  # it starts its own variants and the peer (nginx, php-fpm, memcached)
    ),
    Scenario(
        "o",
        "overload: 2× capacity for 60 s through HAProxy (admission control)",
        overload,
        (OVERLOAD_SERVER, "ent"),
        by_default=False,  # 60 s of overload plus the capacity runs: --only o
    ),
)
