"""test-artifacts/journeys.md: each journey of issue 13, its tests, their outcome and screenshots.

Written at the end of the browser tests' session from what each test's ``ParentBrowser`` saw.
The journeys a test walks are named by its ``@pytest.mark.journey(...)``; a test without the mark
is listed under « autres pages ».
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.browser_e2e.parent_browser import AXE_PATH, AXE_TAGS, ParentBrowser

OTHER = "autres pages (tests sans marque journey)"


@dataclass
class Walk:
    nodeid: str
    journeys: tuple[str, ...]
    protocol: str
    device: str
    screenshots: list[str]
    axe_checks: int


@dataclass
class JourneyReport:
    path: Path
    walks: list[Walk] = field(default_factory=list)
    outcomes: dict[str, str] = field(default_factory=dict)

    def outcome(self, nodeid: str, report: pytest.TestReport) -> None:
        if report.failed:
            text = report.longreprtext
            errors = [line[1:].strip() for line in text.splitlines() if line.startswith("E ")]
            reason = errors[0] if errors else (text.strip().splitlines() or [""])[-1]
            self.outcomes[nodeid] = f"ÉCHEC ({report.when}) : {reason[:200]}"
        elif report.when == "call" and nodeid not in self.outcomes:
            self.outcomes[nodeid] = "réussi"

    def record(self, node: pytest.Item, parent: ParentBrowser) -> None:
        names = tuple(n for m in node.iter_markers("journey") for n in m.args) or (OTHER,)
        self.walks.append(
            Walk(
                node.nodeid,
                names,
                parent.protocol,
                parent.device,
                parent.all_screenshots(),
                parent.all_axe_checks(),
            )
        )

    def write(self) -> None:
        if not self.walks:
            return
        by_journey: dict[str, list[Walk]] = defaultdict(list)
        for walk in self.walks:
            for name in walk.journeys:
                by_journey[name].append(walk)
        checks = sum(w.axe_checks for w in self.walks)
        failed = sorted({w.nodeid for w in self.walks if self.outcomes.get(w.nodeid) != "réussi"})
        version = json.loads((AXE_PATH.parent / "package.json").read_text(encoding="utf-8"))["version"]
        lines = [
            "# Parcours dans Chromium (issue 13)",
            "",
            f"axe-core {version}, règles {', '.join(AXE_TAGS)} : {checks} pages vérifiées "
            f"dans {len(self.walks)} tests, une violation fait échouer le test "
            f"({len(failed)} test(s) en échec ci-dessous).",
            "",
            "Captures : test-artifacts/screenshots/<parcours>-<protocole>-<écran>-NN-<étape>.png",
            "",
            "| parcours | test | protocole | écran | résultat | captures |",
            "| --- | --- | --- | --- | --- | --- |",
        ]
        for name in sorted(by_journey, key=lambda n: (n == OTHER, n)):
            for walk in by_journey[name]:
                outcome = self.outcomes.get(walk.nodeid, "?").replace("|", "\\|")
                shots = "<br>".join(walk.screenshots) or "–"
                test = walk.nodeid.split("::", 1)[-1]
                lines.append(f"| {name} | `{test}` | {walk.protocol} | {walk.device} | {outcome} | {shots} |")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text("\n".join(lines) + "\n", encoding="utf-8")
