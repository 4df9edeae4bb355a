"""(s) SSO vs SimpleSAMLphp, issue 17 items 1 and 2: the same operation on both IdPs, in one run.

The operation: a signed HTTP-Redirect AuthnRequest with a unique ID from the bench's ENT →
``GET`` of the IdP's SSO endpoint for a user who already has a session there → the auto-POST page
with a signed Response and a signed Assertion (RSA-SHA256, exclusive c14n). Three IdPs answer it:

* ÉduConnect as in (a), the Assertion encrypted to the ENT (its metadata publishes a key);
* ÉduConnect on the same stores but registering the ENT's signing-only metadata (as exported on
  xmlsec1), so its Assertion is signed, not encrypted: the same signatures as the peer;
* SimpleSAMLphp 1.19 (:mod:`bench.simplesamlphp`), the ENT registered from its metadata.

The AuthnRequests of the first two come from the ENT of (a); those of SimpleSAMLphp from a second
ENT process with the same keys and entity ID whose one IdP is SimpleSAMLphp (``config-ssp/``).
Each server is pinned to the same core, the load process to the other; each request is one
connection; every reply is checked (HTTP 200 and a ``SAMLResponse`` field), and before the timed
runs one answer of each IdP is verified: ``xmlsec1 --verify`` of every signature with the IdP's
certificate from its metadata, the algorithms (RSA-SHA256, exclusive c14n) read from the
document, then the ENT consumes it (``POST /saml/acs`` → 302 ``/accueil``: pysaml2 verifies
and, for the encrypted one, decrypts the Assertion).

Rounds are interleaved in the same run, the order reversed every other round (A B C, C B A, …),
so that a neighbour's load falls on all three alike. The targets compare SSO per server
CPU-second (CPU time of the server processes from /proc: gunicorn master and worker; nginx,
php-fpm and memcached), the median of the rounds' ratios.
"""

from __future__ import annotations

import base64
import re
import statistics
import subprocess
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

from lxml import etree

from bench.browser_steps import ent_authn_request, signed_in_idp_session
from bench.deployment import PASSWORD, config_dir_for, metadata_path
from bench.harness import Bench, BenchError, Clients, MeasuredServer, ServerSpec, in_lanes
from bench.load import Operation, Step
from bench.loopback_http import Connection, Reply, hidden_field, local_target, request_once
from bench.measurement import Measurement, Outcome, Target, ratio
from bench.simplesamlphp import PeerStack, PeerUser, running_simplesamlphp
from bench.sso_parts import SSO_PARTS_COUNT, measure_split, split_lines

ROUNDS = 3
SSO_OPS_PER_RUN = 2000  # at --scale 1; each run also stops at the plan's time limit
TARGET_SAME_SIGNATURES = 2.0
TARGET_ENCRYPTED = 1.8
ENCRYPTED = "ÉduConnect, assertion encrypted"
PLAIN = "ÉduConnect, assertion not encrypted"
PEER = "SimpleSAMLphp"
XMLSEC1 = "/usr/bin/xmlsec1"
# Started by the scenario once their configuration is written; "idp" and "ent" are those of (a).
VARIANT_SERVERS = {
    "idp-noenc": ServerSpec("idp", config_variant="noenc"),
    "ent-ssp": ServerSpec("ent", config_variant="ssp"),
}
SAMLP = "urn:oasis:names:tc:SAML:2.0:protocol"
SAML = "urn:oasis:names:tc:SAML:2.0:assertion"
DS = "http://www.w3.org/2000/09/xmldsig#"
MD = "urn:oasis:names:tc:SAML:2.0:metadata"
RSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
EXC_C14N = "http://www.w3.org/2001/10/xml-exc-c14n#"
SSP_SESSION_COOKIES = ("SimpleSAMLSessionID", "SimpleSAMLAuthToken")


@dataclass(frozen=True)
class System:
    label: str
    server: MeasuredServer
    ent_port: int  # the ENT whose AuthnRequests this IdP answers
    sessions: list[str]  # one signed-in session cookie per lane
    cert_pem: str  # the IdP's signing certificate, from its metadata


def sso_versus_simplesamlphp(bench: Bench) -> Outcome:
    """(s) ÉduConnect (assertion encrypted and not) and SimpleSAMLphp, interleaved rounds."""
    dep, plan = bench.dep, bench.plan
    _write_noenc_config(dep.root)
    bench.start({"idp-noenc": VARIANT_SERVERS["idp-noenc"]})
    lanes = plan.lanes_per_worker
    user = _peer_user(bench)
    ent_metadata = dep.root / metadata_path("ent.xml", "inprocess")
    with running_simplesamlphp(ent_metadata, user, plan.server_cpus, lanes) as ssp:
        peer_metadata = dep.root / "metadata" / "ssp-idp.xml"
        peer_metadata.write_text(ssp.metadata())
        _write_ssp_ent_config(dep.root, peer_metadata.relative_to(dep.root))
        bench.start({"ent-ssp": VARIANT_SERVERS["ent-ssp"]})
        systems = _systems(bench, ssp, user, lanes)
        notes = [_verify_sample(bench, system) for system in systems]
        before = ssp.cpu_seconds_by_program()
        rounds = _interleaved_rounds(bench, systems, lanes)
        split = {k: v - before.get(k, 0.0) for k, v in ssp.cpu_seconds_by_program().items()}
    # Where our SSO's CPU goes, part by part (issue 17 item 4), after the rounds.
    parts = measure_split(dep.env("inprocess"), dep.identifiers[0], PASSWORD, plan.count(SSO_PARTS_COUNT))
    return _outcome(rounds, notes + split_lines(parts, ENCRYPTED), split)


def _systems(bench: Bench, ssp: PeerStack, user: PeerUser, lanes: int) -> list[System]:
    clients = Clients()
    idp, ent, ent_ssp = bench.servers["idp"], bench.servers["ent"], bench.servers["ent-ssp"]
    identifiers = bench.dep.identifiers
    # The two ÉduConnect servers share PostgreSQL and Redis: a session of one is a session of both.
    ours = bench.prepare(
        lambda i: signed_in_idp_session(clients.to(idp.port), identifiers[i % len(identifiers)], PASSWORD),
        range(lanes),
    )
    theirs = bench.prepare(lambda _: _ssp_session(clients, ent_ssp.port, ssp.port, user), range(lanes))
    ours_cert = _signing_cert(bench.dep.root / metadata_path("idp.xml", "inprocess"))
    theirs_cert = _signing_cert(bench.dep.root / "metadata" / "ssp-idp.xml")
    return [
        System(ENCRYPTED, idp, ent.port, ours, ours_cert),
        System(PLAIN, bench.servers["idp-noenc"], ent.port, ours, ours_cert),
        System(PEER, ssp, ent_ssp.port, theirs, theirs_cert),
    ]


def _interleaved_rounds(bench: Bench, systems: list[System], lanes: int) -> list[dict[str, Measurement]]:
    plan, clients = bench.plan, Clients()

    def operations(system: System, count: int) -> list[list[Operation]]:
        paths = bench.prepare(lambda _: ent_authn_request(clients.to(system.ent_port))[1], range(count))
        return [
            [
                Operation(steps=(Step("GET", path, 200, 'name="SAMLResponse"'),), cookie=cookie)
                for path in lane
            ]
            for cookie, lane in zip(system.sessions, in_lanes(paths, lanes), strict=True)
        ]

    rounds = []
    for number in range(1, ROUNDS + 1):
        order = systems if number % 2 else list(reversed(systems))
        measured = {}
        for system in order:
            # Prepared right before the run: our IdP accepts an AuthnRequest for a few minutes only.
            warmup = operations(system, plan.warmup_ops_per_lane * lanes)
            timed = operations(system, plan.count(SSO_OPS_PER_RUN))
            measured[system.label] = bench.measure(
                f"round {number}: {system.label}", system.server, timed, warmup
            )
        rounds.append(measured)
    return rounds


def _per_cpu_second(m: Measurement) -> float:
    return m.run.completed / m.server_cpu_seconds if m.server_cpu_seconds > 0 else 0.0


def _outcome(rounds: list[dict[str, Measurement]], notes: list[str], split: dict[str, float]) -> Outcome:
    measurements = [m for measured in rounds for m in measured.values()]
    summary = []
    for label in (ENCRYPTED, PLAIN, PEER):
        runs = [measured[label] for measured in rounds]
        rates = [_per_cpu_second(m) for m in runs]
        summary.append(
            f"{label}: {statistics.median(rates):.0f} SSO per server CPU-second (median; "
            f"{min(rates):.0f}-{max(rates):.0f}), "
            f"{statistics.median(m.server_cpu_ms_per_op for m in runs):.2f} ms of server CPU per SSO, "
            f"{statistics.median(m.per_core for m in runs):.0f}/s per core, "
            f"p50 {statistics.median(m.latency_ms(50) for m in runs):.1f} ms, "
            f"p95 {statistics.median(m.latency_ms(95) for m in runs):.1f} ms (medians of {len(runs)} rounds)"
        )

    def ratios(label: str, per: str) -> list[float]:
        values = []
        for measured in rounds:
            ours, peer = measured[label], measured[PEER]
            value = (
                ratio(_per_cpu_second(ours), _per_cpu_second(peer))
                if per == "cpu"
                else ratio(ours.per_core, peer.per_core)
            )
            if value is not None:
                values.append(value)
        return values

    def median(values: list[float]) -> float | None:
        return statistics.median(values) if values else None

    for label in (ENCRYPTED, PLAIN):
        cpu, core = ratios(label, "cpu"), ratios(label, "core")
        summary.append(
            f"{label} ÷ SimpleSAMLphp: {_times(median(cpu))} per server CPU-second (rounds: "
            + ", ".join(f"{r:.2f}×" for r in cpu)
            + f"), {_times(median(core))} per core (rounds: "
            + ", ".join(f"{r:.2f}×" for r in core)
            + ")"
        )
    total = sum(split.values())
    if total > 0:
        summary.append(
            "SimpleSAMLphp's server CPU (warm-up and timed runs): "
            + ", ".join(f"{program} {100 * seconds / total:.0f} %" for program, seconds in split.items())
        )
    summary += [
        "server CPU: ÉduConnect = gunicorn master + worker (PostgreSQL and Redis, which it also uses, are "
        "not counted: they are shared, unpinned and in « other CPU »); SimpleSAMLphp = nginx + php-fpm "
        "+ memcached, all pinned to the server core",
        "rounds interleaved in the same run, order reversed every other round; each ratio is the median "
        "of the rounds' ratios",
    ]
    return Outcome(
        measurements=measurements,
        targets=[
            Target(
                "(s) SSO per server CPU-second, ÉduConnect ÷ SimpleSAMLphp, same signatures",
                median(ratios(PLAIN, "cpu")),
                TARGET_SAME_SIGNATURES,
                "×",
            ),
            Target(
                "(s) SSO per server CPU-second, ÉduConnect with assertion encryption ÷ SimpleSAMLphp",
                median(ratios(ENCRYPTED, "cpu")),
                TARGET_ENCRYPTED,
                "×",
            ),
        ],
        notes=notes + summary,
    )


def _times(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}×"


# --- configuration of the variants ----------------------------------------------------------


def _write_noenc_config(root: Path) -> None:
    """``config-noenc/``: the in-process TOMLs, the IdP registering the ENT's signing-only
    metadata (the one exported on xmlsec1: no encryption key, so no encryption)."""
    source, target = config_dir_for(root, "inprocess"), config_dir_for(root, "noenc")
    target.mkdir(exist_ok=True)
    for toml in source.glob("*.toml"):
        text = toml.read_text()
        if toml.name == "idp.toml":
            signing_only = metadata_path("ent.xml", "xmlsec1")
            text = text.replace(f'"{metadata_path("ent.xml", "inprocess")}"', f'"{signing_only}"')
            if signing_only not in text:
                raise BenchError("config-noenc: the IdP's service provider metadata line not found")
        (target / toml.name).write_text(text)


def _write_ssp_ent_config(root: Path, peer_metadata: Path) -> None:
    """``config-ssp/``: the ENT (same keys and entity ID) whose one IdP is SimpleSAMLphp."""
    source, target = config_dir_for(root, "inprocess"), config_dir_for(root, "ssp")
    target.mkdir(exist_ok=True)
    text = (source / "ent.toml").read_text()
    text, count = re.subn(r"(?m)^peer_metadata = .*$", f'peer_metadata = ["{peer_metadata}"]', text)
    if count != 1:
        raise BenchError("config-ssp: the ENT's peer_metadata line not found")
    (target / "ent.toml").write_text(text.replace('state_dir = "var/ent"', 'state_dir = "var/ent-ssp"'))


def _peer_user(bench: Bench) -> PeerUser:
    """The peer's account, with the attributes ÉduConnect releases to the ENT for a bench parent
    (DESIGN §4 names; the seeded parents have no confirmed child, so no FrEduVecteur)."""
    oid = "urn:oid:1.3.6.1.4.1.20326.10.999.1."
    return PeerUser(
        "bench.parent0",
        PASSWORD,
        {
            "urn:oid:2.5.4.4": ["Martin0"],
            "urn:oid:2.5.4.42": ["Claire"],
            f"{oid}57": ["176d62d2e3b8fc683f0be28f1f28231b"],
            f"{oid}6": ["2026-12-03 12:41:54.667"],
            f"{oid}5": ["https://ssp.bench.test/simplesaml/saml2/idp/SingleLogoutService.php"],
            "FrEduCtId": ["176d62d2e3b8fc683f0be28f1f28231b"],  # for saml:PersistentNameID
        },
    )


# --- SimpleSAMLphp's login, as a browser would ------------------------------------------------


def _ssp_session(clients: Clients, ent_port: int, ssp_port: int, user: PeerUser) -> str:
    """Sign in at SimpleSAMLphp through a first SSO: SSO → login page → POST → SSO answered."""
    ssp = clients.to(ssp_port)
    jar: dict[str, str] = {}

    def cookie() -> str:
        return "; ".join(f"{k}={v}" for k, v in jar.items())

    def remember(reply: Reply) -> Reply:
        for name in SSP_SESSION_COOKIES:
            value = reply.cookie(name)
            if value:
                jar[name] = value
        return reply

    _, sso_path = ent_authn_request(clients.to(ent_port))
    reply = remember(ssp.request("GET", sso_path))
    if reply.status not in (302, 303) or "AuthState=" not in reply.location:
        raise BenchError(f"SimpleSAMLphp SSO: HTTP {reply.status}, expected a redirect to its login page")
    login = local_target(reply.location)
    auth_state = parse_qs(urlsplit(login).query)["AuthState"][0]
    remember(ssp.request("GET", login, cookie=cookie()))
    body = urlencode({"username": user.username, "password": user.password, "AuthState": auth_state})
    reply = remember(ssp.request("POST", urlsplit(login).path, body.encode(), cookie()))
    for _ in range(5):  # SimpleSAMLphp resumes the SSO through a redirect or two
        if reply.status not in (302, 303):
            break
        reply = remember(ssp.request("GET", local_target(reply.location), cookie=cookie()))
    if reply.status != 200 or b'name="SAMLResponse"' not in reply.body:
        excerpt = re.sub(r"\s+", " ", reply.body.decode("utf-8", "replace"))[:600]
        raise BenchError(f"SimpleSAMLphp login: HTTP {reply.status}, no SAMLResponse: {excerpt}")
    if "SimpleSAMLSessionID" not in jar:
        raise BenchError("SimpleSAMLphp login: no session cookie")
    return cookie()


# --- checking one answer of each IdP -----------------------------------------------------------


def _signing_cert(metadata: Path) -> str:
    """The IdP's signing certificate (PEM) from its metadata."""
    tree = etree.parse(str(metadata))
    found = tree.xpath(
        "//md:IDPSSODescriptor/md:KeyDescriptor[not(@use) or @use='signing']//ds:X509Certificate/text()",
        namespaces={"md": MD, "ds": DS},
    )
    if not found:
        raise BenchError(f"no signing certificate in {metadata.name}")
    body = "".join(str(found[0]).split())
    lines = [body[i : i + 64] for i in range(0, len(body), 64)]
    return "-----BEGIN CERTIFICATE-----\n" + "\n".join(lines) + "\n-----END CERTIFICATE-----\n"


def _verify_sample(bench: Bench, system: System) -> str:
    """One answer, fully checked (signatures with xmlsec1, algorithms, the ENT's ACS)."""
    clients = Clients()
    ent = clients.to(system.ent_port)
    ent_cookie, sso_path = ent_authn_request(ent)
    page = request_once(system.server.port, "GET", sso_path, cookie=system.sessions[0])
    if page.status != 200:
        raise BenchError(f"{system.label}: sample SSO answered HTTP {page.status}")
    saml_response = hidden_field(page.body, "SAMLResponse")
    document = base64.b64decode(saml_response)
    root = etree.fromstring(document)
    work = bench.dep.root / "samples"
    work.mkdir(exist_ok=True)
    stem = re.sub(r"\W+", "-", system.label).strip("-").lower()
    cert_path, xml_path = work / f"{stem}.crt", work / f"{stem}.xml"
    cert_path.write_text(system.cert_pem)
    xml_path.write_bytes(document)
    checked = []
    elements = [("Response", root)]
    elements += [("Assertion", a) for a in root.findall(f"{{{SAML}}}Assertion")]
    if root.find(f"{{{SAML}}}EncryptedAssertion") is not None:
        checked.append("Assertion encrypted (its signature verified by the ENT after decryption)")
    elif len(elements) != 2:
        raise BenchError(f"{system.label}: {len(elements) - 1} Assertions in the Response, expected one")
    for name, element in elements:
        signature = element.find(f"{{{DS}}}Signature")
        if signature is None:
            raise BenchError(f"{system.label}: the {name} is not signed")
        method = signature.find(f"{{{DS}}}SignedInfo/{{{DS}}}SignatureMethod").get("Algorithm")
        c14n = signature.find(f"{{{DS}}}SignedInfo/{{{DS}}}CanonicalizationMethod").get("Algorithm")
        if (method, c14n) != (RSA_SHA256, EXC_C14N):
            raise BenchError(f"{system.label}: {name} signed with {method}, {c14n}")
        _xmlsec1_verify(system.label, name, element.get("ID"), cert_path, xml_path)
        checked.append(f"{name} signature verified by xmlsec1 (RSA-SHA256, exclusive c14n)")
    body = urlencode({"SAMLResponse": saml_response} | _relay_state(page)).encode()
    acs = ent.request("POST", "/saml/acs", body, ent_cookie)
    if acs.status != 302 or "/accueil" not in acs.location:
        raise BenchError(f"{system.label}: the ENT refused the sample (HTTP {acs.status} {acs.location})")
    checked.append("the ENT accepted it (POST /saml/acs → /accueil)")
    _check_refuses_wrong_signature(system, ent)
    checked.append("an AuthnRequest carrying another request's Signature refused")
    return f"sample answer of {system.label}: " + "; ".join(checked)


def _check_refuses_wrong_signature(system: System, ent: Connection) -> None:
    """Both IdPs do check the redirect signature (``validate.authnrequest``): one request sent
    with the Signature of another, fresh and valid, must not be answered."""
    _, first = ent_authn_request(ent)
    _, second = ent_authn_request(ent)
    signature = re.compile(r"([?&]Signature=)[^&]*")
    found = signature.search(second)
    if found is None or signature.search(first) is None:
        raise BenchError(f"{system.label}: no Signature in the ENT's AuthnRequest")
    forged = signature.sub(lambda m: m.group(1) + found.group(0).split("=", 1)[1], first)
    reply = request_once(system.server.port, "GET", forged, cookie=system.sessions[0])
    if reply.status == 200 and b'name="SAMLResponse"' in reply.body:
        raise BenchError(f"{system.label}: answered an AuthnRequest whose signature is not its own")


def _relay_state(page: Reply) -> dict[str, str]:
    return {"RelayState": hidden_field(page.body, "RelayState")} if b'name="RelayState"' in page.body else {}


def _xmlsec1_verify(label: str, name: str, element_id: str | None, cert: Path, xml: Path) -> None:
    if not element_id:
        raise BenchError(f"{label}: the {name} has no ID")
    namespace = SAMLP if name == "Response" else SAML
    done = subprocess.run(
        [
            XMLSEC1, "--verify", "--enabled-reference-uris", "empty,same-doc",
            "--enabled-key-data", "raw-x509-cert", "--pubkey-cert-pem", str(cert),
            "--id-attr:ID", f"{namespace}:{name}", "--node-id", element_id, str(xml),
        ],
        capture_output=True,
        text=True,
        check=False,
    )  # fmt: skip
    if done.returncode != 0:
        raise BenchError(f"{label}: xmlsec1 --verify of the {name} failed:\n{done.stderr[-1500:]}")
