"""The served copies of the static files: fingerprinted names, precompressed (``make static``).

    python -m federation.static_build

Reads the assets under ``federation/static/`` (the vendored DSFR subset, css/, js/) and writes
``federation/static/dist/``: each file under a name carrying the first 12 hex digits of the
SHA-256 of its content (``css/site.css`` → ``dist/css/site.3f…9a.css``), beside it a ``.br``
(brotli, quality 11) and a ``.gz`` (gzip 9) copy when they are smaller, and ``manifest.json``
mapping each source name to its served name. A stylesheet's ``url()`` are rewritten to the
fingerprinted names first, so a new font gives the stylesheet a new name too; a ``url()`` to a file
that is not there stops the build. The result is committed: the services need no build step at
start, and tests/unit/test_static_assets.py fails when it is stale.

Served by ``federation/static_assets.py``.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import posixpath
import re
import shutil
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import brotli

from federation.static_assets import DIST, ENCODING_SUFFIXES, MANIFEST, STATIC_ROOT

ASSET_SUFFIXES = (".css", ".js", ".svg", ".woff2")
# woff2 is already brotli inside.
COMPRESSIBLE_SUFFIXES = (".css", ".js", ".svg")
HASH_LENGTH = 12
URL = re.compile(r"""url\(\s*['"]?(?!data:)([^'")]+)['"]?\s*\)""")


class MissingAsset(Exception):
    """A stylesheet names a file that is not among the assets."""


@dataclass(frozen=True)
class BuiltAsset:
    source: str  # "css/site.css", relative to the static folder
    served: str  # "dist/css/site.<hash>.css"
    content: bytes
    compressed: Mapping[str, bytes]  # "br", "gzip": the precompressed copies beside it

    @property
    def encodings(self) -> tuple[str, ...]:
        return tuple(self.compressed)


def fingerprinted_name(source: str, content: bytes) -> str:
    digest = hashlib.sha256(content).hexdigest()[:HASH_LENGTH]
    stem, dot, suffix = posixpath.basename(source).rpartition(".")
    folder = posixpath.dirname(source)
    return posixpath.join(DIST, folder, f"{stem}.{digest}{dot}{suffix}")


def source_assets(root: Path) -> list[str]:
    """Every asset under ``root`` but the built ones, as POSIX paths relative to it."""
    found = []
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root).as_posix()
        if path.is_file() and path.suffix in ASSET_SUFFIXES and not relative.startswith(f"{DIST}/"):
            found.append(relative)
    return found


def rewrite_urls(source: str, css: str, served: dict[str, str]) -> str:
    """``url()`` of ``css`` (at ``source``) pointed at the served names, relative to its own."""
    own_folder = posixpath.join(DIST, posixpath.dirname(source))

    def fingerprinted(match: re.Match[str]) -> str:
        target = posixpath.normpath(posixpath.join(posixpath.dirname(source), match.group(1)))
        if target not in served:
            raise MissingAsset(f"{source}: url({match.group(1)}) — {target} absent")
        return f"url({posixpath.relpath(served[target], own_folder)})"

    return URL.sub(fingerprinted, css)


def compressed(content: bytes) -> dict[str, bytes]:
    variants = {
        "br": brotli.compress(content, quality=11),
        "gzip": gzip.compress(content, compresslevel=9, mtime=0),
    }
    return {name: data for name, data in variants.items() if len(data) < len(content)}


def build(root: Path = STATIC_ROOT) -> list[BuiltAsset]:
    """What dist/ must hold, computed from the sources (writes nothing)."""
    sources = source_assets(root)
    served: dict[str, str] = {}
    built: list[BuiltAsset] = []
    # Stylesheets last: they name the others' fingerprinted files.
    for source in sorted(sources, key=lambda s: (s.endswith(".css"), s)):
        content = (root / source).read_bytes()
        if source.endswith(".css"):
            content = rewrite_urls(source, content.decode("utf-8"), served).encode("utf-8")
        served[source] = fingerprinted_name(source, content)
        variants = compressed(content) if source.endswith(COMPRESSIBLE_SUFFIXES) else {}
        built.append(BuiltAsset(source, served[source], content, variants))
    return built


def manifest(assets: list[BuiltAsset]) -> dict[str, dict[str, object]]:
    return {a.source: {"file": a.served, "encodings": list(a.encodings)} for a in assets}


def write(root: Path = STATIC_ROOT) -> list[BuiltAsset]:
    """Rebuild ``root``/dist from the sources."""
    assets = build(root)
    shutil.rmtree(root / DIST, ignore_errors=True)
    for asset in assets:
        path = root / asset.served
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(asset.content)
        for encoding, data in asset.compressed.items():
            path.with_name(path.name + ENCODING_SUFFIXES[encoding]).write_bytes(data)
    text = json.dumps(manifest(assets), indent=1, sort_keys=True) + "\n"
    (root / DIST / MANIFEST).write_text(text, encoding="utf-8")
    return assets


def main() -> None:
    try:
        assets = write()
    except MissingAsset as exc:
        sys.exit(str(exc))
    for asset in assets:
        print(f"{asset.source} -> {asset.served} {' '.join(asset.encodings)}")


if __name__ == "__main__":
    main()
