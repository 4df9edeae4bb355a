#!/usr/bin/env bash
# Vendors the built CSS of the State design system (DSFR, npm package @gouvfr/dsfr) into
# federation/static/dsfr/, so that running the services needs no npm. Only what our pages use is
# copied: dsfr.min.css, the favicon, three Marianne weights (woff2) and four icons.
#   scripts/vendor-dsfr.sh [VERSION]      (make dsfr DSFR_VERSION=…)
# The browser tests fail on any static file answered 404: add an icon or a weight here if a page
# needs it.
set -euo pipefail
version=${1:-1.15.3}
root="$(cd "$(dirname "$0")/.." && pwd)"
target="$root/federation/static/dsfr"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

(cd "$work" && npm pack --silent "@gouvfr/dsfr@$version" >/dev/null && tar xzf gouvfr-dsfr-*.tgz)
dist="$work/package/dist"

# The icons of the alerts and messages (fr-alert--*, fr-message--*) and the Marianne weights used.
icons=(system/fr--error-fill.svg system/fr--info-fill.svg system/fr--success-fill.svg system/fr--warning-fill.svg)
fonts=(Marianne-Regular Marianne-Medium Marianne-Bold)

rm -rf "$target"
mkdir -p "$target/fonts"
cp "$dist/dsfr.min.css" "$target/"
cp "$dist/favicon/favicon.svg" "$target/"
cp "$work/package/LICENSE.md" "$target/LICENSE.md"
for f in "${fonts[@]}"; do cp "$dist/fonts/$f.woff2" "$target/fonts/"; done
for i in "${icons[@]}"; do
  mkdir -p "$target/icons/$(dirname "$i")"
  cp "$dist/icons/$i" "$target/icons/$i"
done
cat > "$target/README.md" <<EOF
# DSFR $version (vendored)

Built files of the Système de design de l'État, npm package \`@gouvfr/dsfr@$version\`
(licence: LICENSE.md, Etalab 2.0 with its terms of use; the Marianne font and the State's
visual identity are reserved to public services). Only what our pages use is here:
\`dsfr.min.css\`, \`favicon.svg\`, three Marianne weights (woff2) and the alert and message icons.
No DSFR JavaScript is used. The browser tests fail on any static file answered 404: a page that
needs another icon or weight adds it to scripts/vendor-dsfr.sh.

Refresh or change version with \`make dsfr DSFR_VERSION=x.y.z\` (scripts/vendor-dsfr.sh: npm pack
into a temporary folder, then copy). Do not edit these files by hand.
EOF
echo "DSFR $version -> $target ($(du -sh "$target" | cut -f1))"
