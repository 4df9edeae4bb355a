"""A parent's browser tab, checked at each page they see.

``ParentBrowser.check(step)`` is called on every page a test reaches: it asserts the page is
French, served with the strict CSP and without a CSP violation, a JavaScript error or a missing
static file, runs axe-core (WCAG 2.0/2.1 A and AA rules) and saves the step's screenshot under
test-artifacts/screenshots/ (at 1280 px, and at 360 px for the key pages, which must also reflow
without horizontal scrolling at 320 px).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from playwright.sync_api import ConsoleMessage, Page, Response

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


@dataclass
class ParentBrowser:
    page: Page
    urls: dict[str, str]
    name: str
    problems: list[str] = field(default_factory=list)
    documents: list[Response] = field(default_factory=list)
    step: int = 0

    def __post_init__(self) -> None:
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda exc: self.problems.append(f"JavaScript : {exc}"))
        self.page.on("response", self._response)

    def _console(self, message: ConsoleMessage) -> None:
        text = message.text
        if "Content Security Policy" in text or "Refused to" in text:
            self.problems.append(f"CSP : {text}")

    def _response(self, response: Response) -> None:
        kind = response.request.resource_type
        if kind == "document":
            self.documents.append(response)
        elif response.status >= 400:
            self.problems.append(f"{kind} {response.url} : {response.status}")

    # --- navigation ------------------------------------------------------------------------

    def goto(self, service: str, path: str) -> Response | None:
        return self.page.goto(self.urls[service] + path)

    def path_is(self, service: str, path: str | re.Pattern[str]) -> None:
        """Wait for the page of ``service`` at ``path`` (redirects and auto-POSTs included)."""
        base = re.escape(self.urls[service])
        pattern = path.pattern if isinstance(path, re.Pattern) else re.escape(path)
        self.page.wait_for_url(re.compile(f"^{base}{pattern}(\\?.*)?$"))

    def click_link(self, name: str) -> None:
        self.page.get_by_role("link", name=name, exact=True).click()

    def click_button(self, name: str) -> None:
        self.page.get_by_role("button", name=name, exact=True).click()

    # --- checks ----------------------------------------------------------------------------

    def check(self, label: str, *, phone: bool = False) -> None:
        """French page, strict CSP, no violation, accessible (axe); screenshot(s) of this step."""
        self.page.wait_for_load_state("load")
        html = self.page.content()
        assert '<html lang="fr">' in html, f"{label}: pas de page française"
        body = self.page.locator("body").inner_text()
        assert not any(word in body for word in ENGLISH_FRAMEWORK_PAGES), f"{label}: {body[:300]}"
        assert self.page.title().endswith(("ÉduConnect", "Services en ligne", "ATEN")), self.page.title()
        self._check_csp(label)
        widths = (DESKTOP, PHONE) if phone else (DESKTOP,)
        for width in widths:
            self.page.set_viewport_size({"width": width, "height": 900})
            violations = axe_violations(self.page)
            assert not violations, f"{label} ({width} px) : axe\n{describe(violations)}"
            self.step += 1 if width == DESKTOP else 0
            path = SCREENSHOTS / f"{self.name}-{self.step:02d}-{label}-{width}.png"
            self.page.screenshot(path=path, full_page=True)
        if phone:  # WCAG 1.4.10 reflow: nothing to scroll sideways at 320 px
            self.page.set_viewport_size({"width": NARROWEST, "height": 900})
            width = self.page.evaluate("() => document.documentElement.scrollWidth")
            assert width <= NARROWEST, f"{label}: {width} px de large à {NARROWEST} px"
        self.page.set_viewport_size({"width": DESKTOP, "height": 900})
        assert not self.problems, f"{label}: " + "\n".join(self.problems)

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
