"""The axe check of every page can fail: it finds the faults it is there to find."""

from __future__ import annotations

from tests.browser_e2e.parent_browser import axe_violations

FAULTY_PAGE = """<!doctype html><html lang="fr"><head><title>Essai</title></head><body><main>
<h1>Essai</h1><p style="color:#aaa;background:#fff">Texte trop pâle</p>
<form><input type="text" name="identifiant"><button type="submit"></button></form></main></body></html>"""


def test_axe_reports_missing_label_contrast_and_empty_button(context):
    page = context.new_page()
    page.set_content(FAULTY_PAGE)
    found = {v["id"] for v in axe_violations(page)}
    assert {"label", "color-contrast", "button-name"} <= found, found
