"""A parent's browser tab, checked at each page they see.

``ParentBrowser.check(step)`` is called on every page a test reaches: it asserts the page is
French, served with the strict CSP and without a CSP violation, a console error, a JavaScript error
or a missing static file, runs axe-core (WCAG 2.0/2.1 A and AA rules) and saves the step's
screenshot as test-artifacts/screenshots/<journey>-<protocol>-<viewport>-NN-<step>.png.

The viewport is the browser context's: ``desktop`` (1280 px) or ``phone`` (375 × 812, a mobile
touch context, where the parent taps). In a desktop context, ``check(step, phone=True)`` also
takes the step at 360 px (``360px`` in the name) and checks the reflow at 320 px.

Console errors: every message of type ``error`` fails the check, but one. Chromium logs « Failed
to load resource: the server responded with a status of 4xx » for a page whose own document came
with that status: a 404 page, « Votre session a expiré » (400), a form sent back with its errors
(422). Such a document is a page the test reached and checks like any other, so that message is
accepted when it names the URL of a document of this tab that came with exactly that status (a
5xx document only when the test said it expects one, ``expect_server_errors``); a script, style or
image that fails to load, whatever its status, fails the check.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from playwright.sync_api import ConsoleMessage, Locator, Page, Response, Route

ROOT = Path(__file__).resolve().parents[2]
AXE_PATH = ROOT / "node_modules" / "axe-core" / "axe.min.js"
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
DESKTOP, PHONE, NARROWEST = 1280, 360, 320
ENGLISH_FRAMEWORK_PAGES = (
    "Traceback",
    "Internal Server Error",
    "Not Found",
    "Method Not Allowed",
    "Werkzeug",
)
DOCUMENT_STATUS_MESSAGE = re.compile(
    r"^Failed to load resource: the server responded with a status of (\d{3})"
)
# What differs between two renderings of the same page: per-session tokens and request ids.
VOLATILE = re.compile(r'(name="(?:csrf_token|SAMLResponse|RelayState)" value=")[^"]*"|(Référence : )\S+')
_axe_clean_pages: set[str] = set()  # pages (viewport + DOM) axe already passed, this session


@cache
def axe_source() -> str:
    return AXE_PATH.read_text(encoding="utf-8")


def axe_violations(page: Page) -> list[dict[str, Any]]:
    """axe-core's violations at WCAG 2.1 AA. ``evaluate`` is not subject to the page's CSP."""
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.evaluate(axe_source())
    result = page.evaluate(
        "tags => axe.run(document, {runOnly: {type: 'tag', values: tags}, resultTypes: ['violations']})",
        AXE_TAGS,
    )
    violations: list[dict[str, Any]] = result["violations"]
    return violations


def describe(violations: list[dict[str, Any]]) -> str:
    return json.dumps(
        [
            {
                "id": v["id"],
                "impact": v["impact"],
                "help": v["help"],
                "nodes": [n["target"] for n in v["nodes"]][:5],
            }
            for v in violations
        ],
        ensure_ascii=False,
        indent=1,
    )


def page_key(page: Page) -> str:
    """The viewport and the DOM, without what changes between two renderings of the same page."""
    viewport = page.viewport_size
    dom = VOLATILE.sub(lambda m: m.group(1) or m.group(2), page.content())
    text = f"{viewport}\n{dom}"
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass
class ParentBrowser:
    page: Page
    urls: dict[str, str]
    name: str  # the journey: the test's name, its parameters other than protocol and viewport
    protocol: str = "saml"
    device: str = "desktop"  # "desktop" or "phone" (the context's viewport, set by the fixture)
    expect_server_errors: bool = False  # a test that serves 5xx pages on purpose says so
    problems: list[str] = field(default_factory=list)
    documents: list[Response] = field(default_factory=list)
    console_errors: list[tuple[str, str]] = field(default_factory=list)  # (text, URL), judged at check
    blocked: list[str] = field(default_factory=list)  # URLs the test aborted (``block``)
    screenshots: list[str] = field(default_factory=list)
    axe_checks: int = 0  # pages passed by axe-core (run here or for the same page before)
    step: int = 0
    tabs: list[ParentBrowser] = field(default_factory=list)  # the other tabs opened (``new_tab``)

    def __post_init__(self) -> None:
        self.watch(self.page)

    def watch(self, page: Page) -> None:
        """Listen to a tab of this parent (the fixture's, or a second one they open)."""
        page.on("console", self._console)
        page.on("pageerror", lambda exc: self.problems.append(f"JavaScript : {exc}"))
        page.on("response", self._response)

    def _console(self, message: ConsoleMessage) -> None:
        text = message.text
        if "Content Security Policy" in text or "Refused to" in text:
            self.problems.append(f"CSP : {text}")
        elif message.type == "error":
            self.console_errors.append((text, str(message.location.get("url", ""))))

    def _response(self, response: Response) -> None:
        kind = response.request.resource_type
        if kind == "document":
            self.documents.append(response)
            if response.status >= 500 and not self.expect_server_errors:
                self.problems.append(f"page {response.url} : {response.status}")
        elif response.status >= 400:
            self.problems.append(f"{kind} {response.url} : {response.status}")

    def _judge_console(self) -> None:
        for text, url in self.console_errors:
            status = DOCUMENT_STATUS_MESSAGE.match(text)
            if status and self._is_own_document(url, int(status.group(1))):
                continue
            if text.startswith("Failed to load resource") and url in self.blocked:
                continue
            self.problems.append(f"console : {text} ({url})")
        self.console_errors.clear()

    def _is_own_document(self, url: str, status: int) -> bool:
        if status >= 500 and not self.expect_server_errors:
            return False
        return status >= 400 and any(d.url == url and d.status == status for d in self.documents)

    def assert_clean(self) -> None:
        """What happened after the last check (the fixture calls this when the test ends)."""
        self._judge_console()
        assert not self.problems, f"{self.name}: " + "\n".join(self.problems)
        for tab in self.tabs:
            tab.assert_clean()

    def all_screenshots(self) -> list[str]:
        return [*self.screenshots, *(name for tab in self.tabs for name in tab.all_screenshots())]

    def all_axe_checks(self) -> int:
        return self.axe_checks + sum(tab.all_axe_checks() for tab in self.tabs)

    # --- navigation ------------------------------------------------------------------------

    def goto(self, service: str, path: str) -> Response | None:
        return self.page.goto(self.urls[service] + path)

    def path_is(self, service: str, path: str | re.Pattern[str]) -> None:
        """Wait for the page of ``service`` at ``path`` (redirects and auto-POSTs included)."""
        base = re.escape(self.urls[service])
        pattern = path.pattern if isinstance(path, re.Pattern) else re.escape(path)
        self.page.wait_for_url(re.compile(f"^{base}{pattern}(\\?.*)?$"))

    def link(self, name: str) -> Locator:
        return self.page.get_by_role("link", name=name, exact=True)

    def button(self, name: str) -> Locator:
        return self.page.get_by_role("button", name=name, exact=True)

    def press(self, target: Locator) -> None:
        """What the parent does to a link or a button: a tap on the phone, a click on the desktop."""
        if self.device == "phone":
            target.tap()
        else:
            target.click()

    def double_press(self, target: Locator) -> None:
        """An impatient parent: two clicks in a row. On the phone too, as mouse events: two
        Playwright touchscreen taps have no timeout, and the second one waited without end for a
        page that was already navigating away."""
        target.dblclick()

    def click_link(self, name: str) -> None:
        self.press(self.link(name))

    def click_button(self, name: str) -> None:
        self.press(self.button(name))

    def submit(self, name: str) -> None:
        """The button of a form: returns once the answer's page has loaded (it may have the
        same URL as the form, a form sent back with its errors)."""
        with self.page.expect_navigation(wait_until="load"):
            self.press(self.button(name))

    def new_tab(self) -> ParentBrowser:
        """A second tab of the same browser (same cookies), checked like the first; its
        screenshots are named ``<journey>-onglet-2-…`` and listed with the journey's."""
        tab = ParentBrowser(
            self.page.context.new_page(),
            self.urls,
            f"{self.name}-onglet-{len(self.tabs) + 2}",
            self.protocol,
            self.device,
            self.expect_server_errors,
        )
        self.tabs.append(tab)
        return tab

    def block(self, pattern: str | re.Pattern[str]) -> None:
        """Requests the test blocks on purpose (our scripts, to see the pages work without them):
        Chromium's « Failed to load resource » for them is expected, not a fault of the page."""

        def abort(route: Route) -> None:
            self.blocked.append(route.request.url)
            route.abort()

        self.page.route(pattern, abort)

    # --- checks ----------------------------------------------------------------------------

    def check(self, label: str, *, phone: bool = False) -> None:
        """French page, strict CSP, no violation, accessible (axe); screenshot(s) of this step."""
        page = self.page
        page.wait_for_load_state("load")
        html = page.content()
        assert '<html lang="fr">' in html, f"{label}: pas de page française"
        body = page.locator("body").inner_text()
        assert not any(word in body for word in ENGLISH_FRAMEWORK_PAGES), f"{label}: {body[:300]}"
        assert page.title().endswith(("ÉduConnect", "Services en ligne", "ATEN")), page.title()
        self._check_csp(label)
        self.step += 1
        if self.device == "phone":
            self._axe_and_screenshot(label, page, "phone")
            width = page.evaluate("() => document.documentElement.scrollWidth")
            viewport = page.viewport_size["width"] if page.viewport_size else 0
            assert width <= viewport, f"{label}: {width} px de large sur un écran de {viewport} px"
        else:
            self._axe_and_screenshot(label, page, "desktop")
        if phone and self.device == "desktop":
            page.set_viewport_size({"width": PHONE, "height": 900})
            self._axe_and_screenshot(label, page, f"{PHONE}px")
            # WCAG 1.4.10 reflow: nothing to scroll sideways at 320 px
            page.set_viewport_size({"width": NARROWEST, "height": 900})
            width = page.evaluate("() => document.documentElement.scrollWidth")
            assert width <= NARROWEST, f"{label}: {width} px de large à {NARROWEST} px"
            page.set_viewport_size({"width": DESKTOP, "height": 900})
        self._judge_console()
        assert not self.problems, f"{label}: " + "\n".join(self.problems)

    def _axe_and_screenshot(self, label: str, page: Page, viewport: str) -> None:
        key = page_key(page)
        if key not in _axe_clean_pages:
            violations = axe_violations(page)
            assert not violations, f"{label} ({viewport}) : axe\n{describe(violations)}"
            _axe_clean_pages.add(key)
        self.axe_checks += 1
        filename = f"{self.name}-{self.protocol}-{viewport}-{self.step:02d}-{label}.png"
        page.screenshot(path=SCREENSHOTS / filename, full_page=True)
        self.screenshots.append(filename)

    def _check_csp(self, label: str) -> None:
        assert self.documents, f"{label}: aucune page chargée"
        document = self.documents[-1]
        csp = document.header_value("content-security-policy") or ""
        assert "script-src 'self';" in csp and "style-src 'self';" in csp, f"{label}: CSP « {csp} »"
        assert "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp, f"{label}: CSP « {csp} »"

    def tab_to(
        self, *, text: str | None = None, element_id: str | re.Pattern[str] | None = None, ring: bool = True
    ) -> None:
        """Press Tab until the wanted element has the focus, with its focus ring drawn."""
        for _ in range(40):
            self.page.keyboard.press("Tab")
            focused = self.focused()
            if text is not None and focused["text"] == text:
                break
            if isinstance(element_id, str) and focused["id"] == element_id:
                break
            if isinstance(element_id, re.Pattern) and element_id.search(focused["id"]):
                break
        else:
            raise AssertionError(f"not reached with Tab: {text or element_id} ({self.page.url})")
        assert focused["ring"] or not ring, f"no visible focus on {focused}"

    def focused(self) -> dict[str, Any]:
        """The focused element: id, tag, text, and whether its focus ring is drawn.

        Read once the page has loaded and rendered twice: Chromium moves the focus to an
        ``autofocus`` field at a rendering step after the load, not as the document is parsed
        (reading earlier found no focused field when the machine was busy)."""
        self.page.wait_for_load_state("load")
        info: dict[str, Any] = self.page.evaluate(
            """() => new Promise(resolve => requestAnimationFrame(() => requestAnimationFrame(() => {
                const e = document.activeElement;
                const style = getComputedStyle(e);
                resolve({id: e.id, tag: e.tagName.toLowerCase(), text: (e.innerText || e.value || '').trim(),
                         ring: style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) > 0});
            })))"""
        )
        return info

    def classes_of(self, selector: str) -> list[str]:
        return (self.page.locator(selector).get_attribute("class") or "").split()
