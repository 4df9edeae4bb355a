"""Real Chromium (Debian's, driven by Playwright) against the three services as real processes.

Chromium comes from ``scripts/install-system-deps.sh test`` (Debian packages chromium and
chromium-driver), axe-core from ``npm ci`` (package.json); ``make test`` runs both first.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Playwright, sync_playwright

from tests.browser_e2e.parent_browser import AXE_PATH, SCREENSHOTS, ParentBrowser
from tests.live_stack import LiveStack, live_stack

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


@pytest.fixture(scope="session")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveStack]:
    with live_stack(tmp_path_factory.mktemp("browser-stack")) as stack:
        yield stack


@pytest.fixture(scope="session")
def live_oidc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveStack]:
    """The same stack with ``demo --protocol oidc``: the ENT is an OpenID Connect client."""
    with live_stack(tmp_path_factory.mktemp("browser-stack-oidc"), protocol="oidc") as stack:
        yield stack


@pytest.fixture(scope="module")
def live_brake(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveStack]:
    """A stack of its own for the login brake's test: the demo accounts it brakes for an hour
    stay usable in the shared ``live`` stack."""
    with live_stack(tmp_path_factory.mktemp("browser-stack-brake")) as stack:
        yield stack


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
def fresh_screenshots() -> None:
    shutil.rmtree(SCREENSHOTS, ignore_errors=True)
    SCREENSHOTS.mkdir(parents=True)


@pytest.fixture
def context(chromium: Browser) -> Iterator[BrowserContext]:
    ctx = chromium.new_context(viewport={"width": 1280, "height": 900}, locale="fr-FR")
    ctx.set_default_timeout(10_000)
    yield ctx
    ctx.close()


@pytest.fixture
def parent(context: BrowserContext, live: LiveStack, request: pytest.FixtureRequest) -> ParentBrowser:
    """A parent's browser tab; screenshots are named after the test."""
    name = request.node.name.removeprefix("test_").replace("_", "-")
    return ParentBrowser(context.new_page(), live.urls, name)


@pytest.fixture
def oidc_parent(
    context: BrowserContext, live_oidc: LiveStack, request: pytest.FixtureRequest
) -> ParentBrowser:
    """A parent's tab on the OpenID Connect variant of the demo."""
    name = "oidc-" + request.node.name.removeprefix("test_").replace("_", "-")
    return ParentBrowser(context.new_page(), live_oidc.urls, name)
