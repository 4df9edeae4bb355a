"""The part of DSFR our pages use, from the unpacked npm package (called by scripts/vendor-dsfr.sh).

    python scripts/dsfr_subset.py <package>/dist federation/static/dsfr

Writes ``dsfr-subset.min.css``: DSFR's core and the components of COMPONENTS (their ``.main``
build, without the legacy rules for old browsers), in the order of DSFR's own bundle, every
``url()`` made relative to the target folder. Only the Marianne weights of FONTS keep their
``@font-face``, with the woff2 source only; those fonts are cut down to the characters of UNICODES
(French and the other Latin-script names of parents), without hinting: 16 KB a weight instead of
58 KB. Every icon the CSS names is copied, so that no rule can point at a missing file.

tests/unit/test_static_assets.py fails when a template uses a DSFR class this subset lacks: add the
component here, run ``make dsfr``, commit.
"""

from __future__ import annotations

import re
import shutil
import sys
from pathlib import Path

from fontTools import subset

# DSFR's own order (dist/dsfr.main.css): core first, a component after the ones it needs.
COMPONENTS = (
    "badge",
    "logo",
    "button",
    "form",
    "radio",
    "stepper",
    "link",
    "alert",
    "notice",
    "checkbox",
    "input",
    "skiplink",
    "footer",
    "header",
)
FONTS = ("Marianne-Regular", "Marianne-Medium", "Marianne-Bold")
# Latin script, and the punctuation of French typography (– — ‘ ’ “ ” „ … ‹ › €, the narrow
# no-break space).
UNICODES = ",".join(
    (
        "U+0020-007E,U+00A0-017F",  # Basic Latin, Latin-1, Latin Extended-A
        "U+0192,U+02C6,U+02DA,U+02DC",
        "U+2010-2015,U+2018-201E,U+2020-2022,U+2026,U+2030,U+2039-203A,U+202F",
        "U+20AC,U+2122,U+2212",
    )
)

FONT_FACE = re.compile(r"@font-face\{[^}]*\}")
# A url() to a file (not a data: URI), quoted or not.
URL = re.compile(r"""url\(\s*['"]?(?!data:)([^'")]+)['"]?\s*\)""")


def component_css(dist: Path) -> list[tuple[str, int]]:
    """(minified CSS, depth of its folder under dist) of the core and each component."""
    parts = [((dist / "core" / "core.main.min.css").read_text(encoding="utf-8"), 1)]
    for name in COMPONENTS:
        parts.append(((dist / "component" / name / f"{name}.main.min.css").read_text(encoding="utf-8"), 2))
    return parts


def relative_to_dist(css: str, depth: int) -> str:
    def moved(match: re.Match[str]) -> str:
        target = match.group(1)
        prefix = "../" * depth
        if not target.startswith(prefix):
            raise SystemExit(f"url({target}) hors du paquet DSFR")
        return f"url({target[len(prefix) :]})"

    return URL.sub(moved, css)


def kept_font_face(rule: str) -> str:
    """The rule with its woff2 source only, or "" for a font we do not ship."""
    sources = re.findall(r"url\((fonts/[^)]+\.woff2)\)", rule)
    if len(sources) != 1 or Path(sources[0]).stem not in FONTS:
        return ""
    return re.sub(r"src:[^;}]*", f'src:url({sources[0]}) format("woff2")', rule)


def subset_css(dist: Path) -> str:
    css = "\n".join(relative_to_dist(text, depth) for text, depth in component_css(dist))
    css = FONT_FACE.sub(lambda m: kept_font_face(m.group(0)), css)
    # One @charset, first (each file of the package starts with its own).
    body = css.replace('@charset "UTF-8";', "")
    return '@charset "UTF-8";' + body


def subset_font(source: Path, target: Path) -> None:
    options = subset.Options()
    options.flavor = "woff2"
    options.hinting = False
    options.desubroutinize = True
    font = subset.load_font(str(source), options)
    subsetter = subset.Subsetter(options)
    subsetter.populate(unicodes=subset.parse_unicodes(UNICODES))
    subsetter.subset(font)
    subset.save_font(font, str(target), options)


def main(dist: Path, target: Path) -> None:
    css = subset_css(dist)
    (target / "dsfr-subset.min.css").write_text(css, encoding="utf-8")
    for url in sorted(set(URL.findall(css))):
        name = url
        destination = target / name
        destination.parent.mkdir(parents=True, exist_ok=True)
        if name.startswith("fonts/"):
            subset_font(dist / name, destination)
        else:
            shutil.copyfile(dist / name, destination)


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
