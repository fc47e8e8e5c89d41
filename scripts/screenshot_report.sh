#!/usr/bin/env bash
# Screenshot a search report the way a person sees it: the HTML page rendered by headless Chromium.
#
#   scripts/screenshot_report.sh [REPORT_HTML] [OUT_PNG] [WIDTH,HEIGHT]
#
# Defaults: the newest reports/*/index.html, reports/screenshot.png, a 1280x2400 window.
# Needs Debian's chromium (`apt-get install -y chromium`). Chromium runs headless, sandbox-less (it runs as root
# in containers), with no GPU, no background networking, no updates, no sync, and a throwaway profile directory.
set -euo pipefail

report="${1:-$(ls -t reports/*/index.html 2>/dev/null | head -n 1 || true)}"
out="${2:-reports/screenshot.png}"
size="${3:-1280,2400}"
chromium="${CHROMIUM:-$(command -v chromium || command -v chromium-browser || true)}"

if [[ -z "$report" || ! -f "$report" ]]; then
    echo "error: no report found (give its index.html, or run \`nas report\` first)" >&2
    exit 2
fi
if [[ -z "$chromium" ]]; then
    echo "error: chromium not found; install it with: apt-get update && apt-get install -y chromium" >&2
    exit 2
fi

profile="$(mktemp -d)"
trap 'rm -rf "$profile"' EXIT
mkdir -p "$(dirname "$out")"
url="file://$(cd "$(dirname "$report")" && pwd)/$(basename "$report")"

timeout 120 "$chromium" --headless --no-sandbox --disable-gpu --disable-background-networking \
    --disable-component-update --disable-sync --no-first-run --hide-scrollbars \
    --user-data-dir="$profile" --window-size="$size" --screenshot="$(realpath -m "$out")" "$url" >/dev/null 2>&1

if [[ ! -s "$out" ]]; then
    echo "error: chromium wrote no screenshot to $out" >&2
    exit 1
fi
echo "$out"
