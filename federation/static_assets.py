"""Serving the static files of the page layout: fingerprinted, precompressed, cached for a year.

``url_for('layout.static', filename='css/site.css')`` gives the fingerprinted URL of
``federation/static/dist/manifest.json`` (``/static/commun/dist/css/site.<hash>.css``, built by
``federation/static_build.py``). That URL names one content forever, so it is answered with
``Cache-Control: public, max-age=31536000, immutable`` (RFC 8246), in the encoding the browser
accepts among the precompressed copies (brotli, then gzip; RFC 9110 §12.5.3), with
``Vary: Accept-Encoding``. A file named by its source path (a page of another release, a file the
manifest does not list yet) is still served, uncompressed, with ``Cache-Control: no-cache``.
"""

from __future__ import annotations

import json
from collections.abc import MutableMapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask import Response, abort, current_app, request, send_from_directory

STATIC_ROOT = Path(__file__).resolve().parent / "static"
DIST = "dist"  # the built copies, under STATIC_ROOT
MANIFEST = "manifest.json"  # under DIST
ENCODING_SUFFIXES = {"br": ".br", "gzip": ".gz"}
IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"
# Preferred first when the browser accepts both equally.
ENCODING_PREFERENCE = ("br", "gzip")
MIMETYPES = {
    ".css": "text/css",
    ".js": "text/javascript",
    ".svg": "image/svg+xml",
    ".woff2": "font/woff2",
}


@dataclass(frozen=True)
class ServedAsset:
    file: str  # "dist/css/site.<hash>.css"
    encodings: tuple[str, ...]


class StaticAssets:
    """The manifest of one static folder, read once per process."""

    def __init__(self, root: Path = STATIC_ROOT) -> None:
        self.root = root
        entries = json.loads((root / DIST / MANIFEST).read_text(encoding="utf-8"))
        self.by_source = {
            source: ServedAsset(entry["file"], tuple(entry["encodings"])) for source, entry in entries.items()
        }
        self.by_file = {asset.file: asset for asset in self.by_source.values()}

    def served_name(self, source: str) -> str:
        """The fingerprinted name of ``source``, or ``source`` itself when the manifest lacks it."""
        asset = self.by_source.get(source)
        return asset.file if asset else source


def fingerprint_static_urls(endpoint: str, values: MutableMapping[str, Any]) -> None:
    """``url_defaults`` of the apps: ``layout.static`` URLs name the fingerprinted file."""
    if endpoint == "layout.static" and "filename" in values:
        values["filename"] = assets().served_name(values["filename"])


def assets() -> StaticAssets:
    found: StaticAssets = current_app.extensions["static_assets"]
    return found


def chosen_encoding(available: tuple[str, ...]) -> str | None:
    """The best of ``available`` the request's Accept-Encoding allows (q > 0), if any."""
    accepted = request.accept_encodings
    best, best_quality = None, 0.0
    for encoding in ENCODING_PREFERENCE:
        quality = accepted.quality(encoding) if encoding in available else 0
        if quality > best_quality:
            best, best_quality = encoding, quality
    return best


def serve_static(filename: str) -> Response:
    """The view of ``/static/commun/<filename>``."""
    served = assets()
    mimetype = MIMETYPES.get(Path(filename).suffix)
    if mimetype is None:
        abort(404)
    asset = served.by_file.get(filename)
    if asset is None:
        if filename.startswith(f"{DIST}/"):  # an older fingerprint: never cache it as this one
            abort(404)
        response = send_from_directory(served.root, filename, mimetype=mimetype)
        response.headers["Cache-Control"] = REVALIDATE
        return response
    encoding = chosen_encoding(asset.encodings)
    path = filename + ENCODING_SUFFIXES[encoding] if encoding else filename
    response = send_from_directory(served.root, path, mimetype=mimetype)
    if encoding:
        response.headers["Content-Encoding"] = encoding
    if asset.encodings:
        response.vary.add("Accept-Encoding")
    response.headers["Cache-Control"] = IMMUTABLE
    return response
