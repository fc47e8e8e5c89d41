#!/usr/bin/env bash
# What the tests need beyond .venv: Chromium (the report and the MLflow UI in a real browser) and
# Graphviz (the winner's drawing, laid out through pydot), from Debian's packages. Idempotent and quick once installed.
#
#   bash scripts/test_deps.sh
set -euo pipefail

if command -v chromium >/dev/null 2>&1 && command -v dot >/dev/null 2>&1; then
    exit 0
fi
if [ "$(id -u)" -eq 0 ]; then SUDO=(); else SUDO=(sudo); fi
echo "test_deps.sh: installing Debian's chromium and graphviz" >&2
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium graphviz
