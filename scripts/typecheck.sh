#!/usr/bin/env bash
# Strict mypy over the installed package layout.
#
# algorithms/ and collectors/ install as tuner.algorithms and tuner.collectors, a mapping
# mypy cannot follow from the source tree (editable installs load them through an import
# hook that mypy does not run). So check a tree of symlinks laid out as installed.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
tree="$(mktemp -d)"
trap 'rm -rf "$tree"' EXIT
mkdir "$tree/tuner"
for entry in "$root"/tuner/*; do ln -s "$entry" "$tree/tuner/"; done
ln -s "$root/algorithms" "$tree/tuner/algorithms"
ln -s "$root/collectors" "$tree/tuner/collectors"
cd "$tree"
exec "$root/.venv/bin/mypy" --config-file "$root/pyproject.toml" -p tuner "$@"
