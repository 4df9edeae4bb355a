"""password_rules.js and idp.domain.password_policy agree: the checklist never contradicts the server."""

from __future__ import annotations

from idp.domain.password_policy import check_password
from tests.browser_e2e.parent_browser import ROOT

SCRIPT = ROOT / "federation" / "static" / "js" / "password_rules.js"
IDENTIFIER = "e.legoff1"
SAMPLES = [
    ("", ""),
    ("Rentree-2026!", "Rentree-2026!"),
    ("Rentree-2026!", "Rentree-2026?"),
    ("rentree2026", "rentree2026"),
    ("RENTREE2026", "RENTREE2026"),
    ("rentree 2026A", "rentree 2026A"),
    ("Court1!", "Court1!"),
    ("E.LEGOFF1", "E.LEGOFF1"),
    ("e.legoff1", "e.legoff1"),
    ("Élève-2026", "Élève-2026"),
    ("µµµµaaaa11", "µµµµaaaa11"),
    ("£££££aaaaa", "£££££aaaaa"),
    ("ßßßßAAAA", "ßßßßAAAA"),
    ("ǅǅǅǅaaaa11", "ǅǅǅǅaaaa11"),
    ("١٢٣٤aaaaAAAA", "١٢٣٤aaaaAAAA"),
    ("ªaaaaaaaA1", "ªaaaaaaaA1"),
    ("中文中文aaAA11", "中文中文aaAA11"),
    ("Emoji😀2026a", "Emoji😀2026a"),
    ("Tab\tTab2026", "Tab\tTab2026"),
    ("~~~~aaaaAAAA", "~~~~aaaaAAAA"),
    ("Point.2026a", "Point.2026a"),
    ("Aa1!" * 32, "Aa1!" * 32),
    ("Aa1!" * 32 + "x", "Aa1!" * 32 + "x"),
    ("😀" * 64 + "Aa1", "😀" * 64 + "Aa1"),
    ("Ecole.Poitiers86", "Ecole.Poitiers86"),
    ("E\u0301le\u0300ve-2026", "Élève-2026"),  # decomposed accents typed on one device, not the other
    ("e\u0301" * 64 + "A1", "e\u0301" * 64 + "A1"),  # 130 code points typed, 66 once composed
    ("E.LEGOFF1", "e.legoff1"),
]


def test_script_and_server_name_the_same_failures(context):
    page = context.new_page()
    page.evaluate(SCRIPT.read_text(encoding="utf-8"))  # no page needed: the rule is a pure function
    in_browser = page.evaluate(
        "([samples, id]) => samples.map(([p, c]) => window.educonnectPasswordRule.failures(p, c, id))",
        [SAMPLES, IDENTIFIER],
    )
    on_server = [list(check_password(p, c, IDENTIFIER).failures) for p, c in SAMPLES]
    differences = [(s, b, srv) for s, b, srv in zip(SAMPLES, in_browser, on_server, strict=True) if b != srv]
    assert not differences
    assert len({tuple(f) for f in on_server}) >= 8  # the samples cover most rules
