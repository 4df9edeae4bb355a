#!/usr/bin/env bash
# Vendors the part of the State design system (DSFR, npm package @gouvfr/dsfr) our pages use into
# federation/static/dsfr/, then rebuilds the served files (federation/static/dist/, make static),
# so that running the services needs no npm:
#   scripts/vendor-dsfr.sh [VERSION]      (make dsfr DSFR_VERSION=…)
# What is kept (the core, the components our templates use, three Marianne weights cut down to the
# Latin script, the icons those rules name) is chosen by scripts/dsfr_subset.py; the tests fail if
# a template uses a DSFR class the subset lacks, or if federation/static/dist/ is stale.
set -euo pipefail
version=${1:-1.15.3}
root="$(cd "$(dirname "$0")/.." && pwd)"
python="${PYTHON:-$root/.venv/bin/python}"
target="$root/federation/static/dsfr"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

(cd "$work" && npm pack --silent "@gouvfr/dsfr@$version" >/dev/null && tar xzf gouvfr-dsfr-*.tgz)
dist="$work/package/dist"

rm -rf "$target"
mkdir -p "$target"
"$python" "$root/scripts/dsfr_subset.py" "$dist" "$target"
cp "$dist/favicon/favicon.svg" "$target/"
cp "$work/package/LICENSE.md" "$target/LICENSE.md"
cat > "$target/README.md" <<END
# DSFR $version (vendored subset)

Built files of the Système de design de l'État, npm package \`@gouvfr/dsfr@$version\`
(licence: LICENSE.md, Etalab 2.0 with its terms of use; the Marianne font and the State's
visual identity are reserved to public services). Only what our pages use is here:
\`dsfr-subset.min.css\` (the core and the components listed in scripts/dsfr_subset.py, modern
browsers' build), \`favicon.svg\`, three Marianne weights (woff2, Latin script only, unhinted) and
the icons those rules name. No DSFR JavaScript is used.

Refresh or change version with \`make dsfr DSFR_VERSION=x.y.z\` (scripts/vendor-dsfr.sh: npm pack
into a temporary folder, scripts/dsfr_subset.py, then \`make static\`). Do not edit these files by
hand. The pages are served the fingerprinted, precompressed copies of federation/static/dist/.
END
"$python" -m federation.static_build
echo "DSFR $version -> $target ($(du -sh "$target" | cut -f1))"
