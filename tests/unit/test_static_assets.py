"""The served static files (issue 13, item 7): what is committed under federation/static/dist/ is
what ``make static`` builds from the sources, the DSFR subset has every class the templates use,
and the server answers each file in the encoding the browser accepts, cached for a year."""

from __future__ import annotations

import gzip
import json
import re
from pathlib import Path

import brotli
import pytest
from flask import Flask

from federation import static_build
from federation.static_assets import DIST, IMMUTABLE, MANIFEST, STATIC_ROOT, StaticAssets
from federation.web import layout

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = [*ROOT.glob("*/templates/*.html")]
SCRIPTS = [*(STATIC_ROOT / "js").glob("*.js")]
SUBSET = STATIC_ROOT / "dsfr" / "dsfr-subset.min.css"
STALE = "federation/static/dist/ est périmé : lancez « make static » et committez le résultat"
# DSFR markup classes with no screen rule of their own in DSFR 1.15.3 (fr-header__body has print
# rules only, which we do not ship).
UNSTYLED_DSFR_CLASSES = {"fr-footer__content-item", "fr-header__body"}


@pytest.fixture(scope="module")
def built() -> list[static_build.BuiltAsset]:
    return static_build.build()


def test_committed_dist_is_what_the_sources_build(built):
    manifest = json.loads((STATIC_ROOT / DIST / MANIFEST).read_text(encoding="utf-8"))
    assert manifest == static_build.manifest(built), STALE
    for asset in built:
        served = STATIC_ROOT / asset.served
        assert served.read_bytes() == asset.content, f"{asset.served}: {STALE}"
        for encoding, suffix in (("br", ".br"), ("gzip", ".gz")):
            copy = served.with_name(served.name + suffix)
            if encoding not in asset.encodings:
                assert not copy.exists(), f"{copy.name}: {STALE}"
                continue
            decompress = brotli.decompress if encoding == "br" else gzip.decompress
            assert decompress(copy.read_bytes()) == asset.content, f"{copy.name}: {STALE}"
    expected = {a.served for a in built} | {f"{a.served}{s}" for a in built for s in (".br", ".gz")}
    expected.add(f"{DIST}/{MANIFEST}")
    on_disk = {p.relative_to(STATIC_ROOT).as_posix() for p in (STATIC_ROOT / DIST).rglob("*") if p.is_file()}
    assert on_disk <= expected, f"{sorted(on_disk - expected)}: {STALE}"


def test_a_changed_source_gives_another_name_and_the_stylesheet_follows(tmp_path):
    (tmp_path / "fonts").mkdir()
    (tmp_path / "fonts" / "f.woff2").write_bytes(b"font v1")
    (tmp_path / "a.css").write_text("@font-face{src:url(fonts/f.woff2)}" + "x{}" * 100, encoding="utf-8")
    first = {a.source: a for a in static_build.build(tmp_path)}
    (tmp_path / "fonts" / "f.woff2").write_bytes(b"font v2")
    second = {a.source: a for a in static_build.build(tmp_path)}
    assert first["fonts/f.woff2"].served != second["fonts/f.woff2"].served
    assert first["a.css"].served != second["a.css"].served
    font_name = second["fonts/f.woff2"].served.removeprefix(f"{DIST}/")
    assert f"url({font_name})".encode() in second["a.css"].content
    assert second["a.css"].encodings == ("br", "gzip")
    assert second["fonts/f.woff2"].encodings == ()  # woff2 is compressed already


def test_a_stylesheet_naming_a_missing_file_stops_the_build(tmp_path):
    (tmp_path / "a.css").write_text("x{background:url(icons/absent.svg)}", encoding="utf-8")
    with pytest.raises(static_build.MissingAsset, match=r"icons/absent\.svg"):
        static_build.build(tmp_path)


def used_classes() -> set[str]:
    """Every DSFR class a template writes in a class attribute, or a script sets."""
    found: set[str] = set()
    for template in TEMPLATES:
        for value in re.findall(r'class="([^"]*)"', template.read_text(encoding="utf-8")):
            # fr-fieldset__element--{{ 'year' if … else 'number' }}: each literal completes the prefix
            for prefix, expression in re.findall(r"(fr-[\w-]*)\{\{(.*?)\}\}", value):
                # the values the expression gives, not the ones it compares with
                found |= {prefix + literal for literal in re.findall(r"(?<!== )'([\w-]+)'", expression)}
            plain = re.sub(r"\{\{.*?\}\}", " ", value)
            found |= set(re.findall(r"(?<![\w-])fr-[\w-]*[\w](?![\w-]*\{)", plain))
    for script in SCRIPTS:
        found |= set(re.findall(r"[\"'](fr-[\w-]+)[\"']", script.read_text(encoding="utf-8")))
    return found


def test_the_dsfr_subset_styles_every_class_the_pages_use():
    css = SUBSET.read_text(encoding="utf-8")
    classes = used_classes()
    assert {"fr-header", "fr-footer__bottom-link", "fr-notice", "fr-message--valid"} <= classes
    assert "fr-fieldset__element--year" in classes  # completed from the template's expression
    missing = sorted(c for c in classes - UNSTYLED_DSFR_CLASSES if not re.search(rf"\.{c}(?![\w-])", css))
    assert not missing, (
        f"absentes de {SUBSET.name} : {missing} — composant à ajouter à scripts/dsfr_subset.py"
    )


def test_the_check_finds_a_class_the_subset_lacks():
    css = SUBSET.read_text(encoding="utf-8")
    assert not re.search(r"\.fr-accordion(?![\w-])", css)  # a component we do not ship


def test_only_the_woff2_we_ship_are_named():
    css = SUBSET.read_text(encoding="utf-8")
    fonts = set(re.findall(r"url\((fonts/[^)]+)\)", css))
    assert fonts == {f"fonts/Marianne-{w}.woff2" for w in ("Regular", "Medium", "Bold")}
    assert ".woff)" not in css


@pytest.fixture(scope="module")
def client():
    app = Flask("static_assets")
    app.register_blueprint(layout)
    return app.test_client()


def served_url(source: str) -> str:
    return f"/static/commun/{StaticAssets().served_name(source)}"


@pytest.mark.parametrize(
    ("accept", "encoding"),
    [
        ("gzip, deflate, br, zstd", "br"),
        ("gzip", "gzip"),
        ("br;q=0, gzip", "gzip"),
        ("gzip;q=1.0, br;q=0.5", "gzip"),
        ("identity", None),
        (None, None),
    ],
)
def test_the_encoding_is_the_one_the_browser_accepts(client, accept, encoding):
    url = served_url("dsfr/dsfr-subset.min.css")
    response = client.get(url, headers={"Accept-Encoding": accept} if accept else {})
    assert response.status_code == 200
    assert response.headers.get("Content-Encoding") == encoding
    assert response.headers["Vary"] == "Accept-Encoding"
    assert response.headers["Cache-Control"] == IMMUTABLE
    assert response.mimetype == "text/css"
    body = {"br": brotli.decompress, "gzip": gzip.decompress, None: bytes}[encoding](response.data)
    assert body == (STATIC_ROOT / StaticAssets().served_name("dsfr/dsfr-subset.min.css")).read_bytes()


def test_a_font_is_sent_as_is_cached_for_a_year(client):
    response = client.get(served_url("dsfr/fonts/Marianne-Regular.woff2"), headers={"Accept-Encoding": "br"})
    assert response.headers.get("Content-Encoding") is None and "Vary" not in response.headers
    assert response.mimetype == "font/woff2" and response.headers["Cache-Control"] == IMMUTABLE


def test_a_source_name_is_served_but_revalidated(client):
    response = client.get("/static/commun/css/site.css")
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-cache"


@pytest.mark.parametrize(
    "path",
    [
        "dist/css/site.000000000000.css",  # an old fingerprint: not this content
        f"{DIST}/{MANIFEST}",
        "../web.py",
        "dsfr/LICENSE.md",
    ],
)
def test_anything_else_is_not_found(client, path):
    assert client.get(f"/static/commun/{path}").status_code == 404


def test_pages_name_the_fingerprinted_files():
    app = Flask("urls")
    app.register_blueprint(layout)
    with app.test_request_context("/"):
        from flask import url_for

        url = url_for("layout.static", filename="css/site.css")
    assert re.fullmatch(r"/static/commun/dist/css/site\.[0-9a-f]{12}\.css", url), url
