"""Real Chromium (Debian's, driven by Playwright) against the three services as real processes.

Chromium comes from ``scripts/install-system-deps.sh test`` (Debian packages chromium and
chromium-driver), axe-core from ``npm ci`` (package.json); ``make test`` runs both first.

One Chromium for the session, one stack per protocol (``stack_pool``), each test on fresh state.
A journey test takes the ``journey`` fixture: it runs once per protocol (``saml``, ``oidc``: the
ENT as SAML SP or OpenID Connect client) and per viewport (``desktop``, ``phone``), and its
screenshots are listed in test-artifacts/journeys.md with the journey (``@pytest.mark.journey``).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Playwright, sync_playwright

from tests.browser_e2e.journey_report import JourneyReport
from tests.browser_e2e.parent_browser import AXE_PATH, SCREENSHOTS, ParentBrowser
from tests.browser_e2e.stack_pool import PROTOCOLS, StackPool
from tests.live_stack import LiveStack

CHROMIUM = Path("/usr/bin/chromium")
# Root needs --no-sandbox; the networking flags keep Chromium from calling Google's services.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DEVICES: dict[str, dict[str, Any]] = {
    "desktop": {"viewport": {"width": 1280, "height": 900}},
    "phone": {"viewport": {"width": 375, "height": 812}, "is_mobile": True, "has_touch": True},
}
REPORT = JourneyReport(SCREENSHOTS.parent / "journeys.md")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "journey(*names): the journeys of issue 13 a browser test walks")


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    REPORT.outcome(report.nodeid, report)


@pytest.fixture(scope="session")
def stacks(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StackPool]:
    pool = StackPool(tmp_path_factory.mktemp("browser-stacks"))
    yield pool
    pool.close()


@pytest.fixture(scope="session")
def live(stacks: StackPool) -> LiveStack:
    return stacks.get("saml")


@pytest.fixture(scope="session")
def live_oidc(stacks: StackPool) -> LiveStack:
    """The same stack with ``demo --protocol oidc``: the ENT is an OpenID Connect client."""
    return stacks.get("oidc")


@pytest.fixture
def live_brake(stacks: StackPool) -> LiveStack:
    """The SAML stack on fresh state: the demo accounts the login brake's test brakes for an hour
    are usable again by the next test."""
    return stacks.fresh("saml")


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    missing = [str(p) for p in (CHROMIUM, AXE_PATH) if not p.exists()]
    if missing:
        pytest.fail(f"absent : {', '.join(missing)} — lancez « make test » (chromium, npm ci)")
    with sync_playwright() as pw:
        yield pw


@pytest.fixture(scope="session")
def chromium(playwright: Playwright) -> Iterator[Browser]:
    browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
    yield browser
    browser.close()


@pytest.fixture(scope="session", autouse=True)
def fresh_screenshots() -> Iterator[None]:
    shutil.rmtree(SCREENSHOTS, ignore_errors=True)
    SCREENSHOTS.mkdir(parents=True)
    yield
    REPORT.write()


def new_context(chromium: Browser, device: str) -> BrowserContext:
    ctx = chromium.new_context(locale="fr-FR", **DEVICES[device])
    ctx.set_default_timeout(10_000)
    return ctx


@pytest.fixture
def context(chromium: Browser) -> Iterator[BrowserContext]:
    ctx = new_context(chromium, "desktop")
    yield ctx
    ctx.close()


def journey_name(request: pytest.FixtureRequest) -> str:
    """The test's name and its own parameters (a demo account, an ATEN parent), for the files."""
    node = request.node
    name = getattr(node, "originalname", node.name).removeprefix("test_")
    params = getattr(getattr(node, "callspec", None), "params", {})
    extra = [str(v) for k, v in params.items() if k not in ("protocol", "device")]
    return "-".join([name, *extra]).replace("_", "-").replace(".", "-")


def _parent(
    request: pytest.FixtureRequest, ctx: BrowserContext, stack: LiveStack, protocol: str, device: str
) -> Iterator[ParentBrowser]:
    parent = ParentBrowser(ctx.new_page(), stack.urls, journey_name(request), protocol, device)
    yield parent
    REPORT.record(request.node, parent)
    parent.assert_clean()


@pytest.fixture(params=PROTOCOLS)
def protocol(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(params=list(DEVICES))
def device(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def journey(
    chromium: Browser, stacks: StackPool, protocol: str, device: str, request: pytest.FixtureRequest
) -> Iterator[ParentBrowser]:
    """A parent's tab on a phone or a desktop, with the ENT on SAML or OpenID Connect, the demo
    as freshly seeded."""
    stack = stacks.fresh(protocol)
    ctx = new_context(chromium, device)
    try:
        yield from _parent(request, ctx, stack, protocol, device)
    finally:
        ctx.close()


@pytest.fixture
def parent(
    context: BrowserContext, stacks: StackPool, request: pytest.FixtureRequest
) -> Iterator[ParentBrowser]:
    """A parent's tab on the SAML demo, desktop, fresh state; screenshots named after the test."""
    yield from _parent(request, context, stacks.fresh("saml"), "saml", "desktop")


@pytest.fixture
def oidc_parent(
    context: BrowserContext, stacks: StackPool, request: pytest.FixtureRequest
) -> Iterator[ParentBrowser]:
    """A parent's tab on the OpenID Connect variant of the demo."""
    yield from _parent(request, context, stacks.fresh("oidc"), "oidc", "desktop")
