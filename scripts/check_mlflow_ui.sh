#!/usr/bin/env bash
# Check, as a person would, that the MLflow UI lists the candidate runs: start `nas ui`, load the experiment's
# runs page in headless Chromium, and count the candidate-NNN rows it renders.
#
#   scripts/check_mlflow_ui.sh [PARAMS] [PORT]            (defaults: params.yaml, 5055)
#
# The MLflow UI is a JavaScript app, so the page is rendered with --dump-dom and a virtual time budget. The URL
# filters the runs to candidates (tags.`nas.kind` = 'candidate') and sorts them by name: MLflow nests child runs
# under their (collapsed) parent only in its default sort, so any other sort lists them flat.
# Needs Debian's chromium (`apt-get install -y chromium`). The UI binds to 127.0.0.1 only and is stopped at exit.
# Set PYTHON to the project's interpreter if .venv/bin/python is not the one to use.
set -euo pipefail

params="${1:-params.yaml}"
port="${2:-5055}"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
python="${PYTHON:-$here/.venv/bin/python}"
chromium="${CHROMIUM:-$(command -v chromium || command -v chromium-browser || true)}"
base="http://127.0.0.1:$port"

if [[ -z "$chromium" ]]; then
    echo "error: chromium not found; install it with: apt-get update && apt-get install -y chromium" >&2
    exit 2
fi

workdir="$(mktemp -d)"
log="$workdir/ui.log"
setsid "$python" -m flows.cli ui --params "$params" --host 127.0.0.1 --port "$port" >"$log" 2>&1 &
ui_pid=$!
cleanup() {
    kill -TERM -- "-$ui_pid" 2>/dev/null || true
    rm -rf "$workdir"
}
trap cleanup EXIT

for _ in $(seq 1 90); do
    if curl -fsS "$base/health" >/dev/null 2>&1; then break; fi
    if ! kill -0 "$ui_pid" 2>/dev/null; then
        echo "error: the MLflow UI did not start:" >&2
        cat "$log" >&2
        exit 1
    fi
    sleep 2
done
curl -fsS "$base/health" >/dev/null || { echo "error: the MLflow UI did not answer on $base" >&2; exit 1; }

experiment="$("$python" -c "from flows.io.params import load_params; print(load_params('$params').tracking.experiment)")"
found="$("$python" - "$base" "$experiment" <<'PY'
import json, sys, urllib.parse, urllib.request
base, name = sys.argv[1], sys.argv[2]
get = lambda path: json.load(urllib.request.urlopen(base + path, timeout=30))
exp = get("/api/2.0/mlflow/experiments/get-by-name?" + urllib.parse.urlencode({"experiment_name": name}))
exp_id = exp["experiment"]["experiment_id"]
body = json.dumps({"experiment_ids": [exp_id], "filter": "tags.`nas.kind` = 'candidate'", "max_results": 1000})
request = urllib.request.Request(base + "/api/2.0/mlflow/runs/search", body.encode(), {"Content-Type": "application/json"})
runs = json.load(urllib.request.urlopen(request, timeout=30)).get("runs", [])
print(exp_id, len({r["info"]["run_name"] for r in runs}))
PY
)" || { echo "error: could not read experiment '$experiment' through the MLflow API at $base" >&2; exit 1; }
read -r experiment_id expected <<<"$found"

query="searchFilter=$("$python" -c "import urllib.parse; print(urllib.parse.quote(\"tags.\`nas.kind\` = 'candidate'\"))")"
url="$base/#/experiments/$experiment_id/runs?$query&orderByKey=attributes.run_name&orderByAsc=true"
timeout 180 "$chromium" --headless --no-sandbox --disable-gpu --disable-background-networking \
    --disable-component-update --disable-sync --no-first-run --user-data-dir="$workdir/profile" \
    --window-size=1600,3000 --virtual-time-budget=30000 --dump-dom "$url" >"$workdir/dom.html" 2>/dev/null

listed="$(grep -o 'candidate-[0-9][0-9][0-9]' "$workdir/dom.html" | sort -u | wc -l)"
wanted=$(( expected < 20 ? expected : 20 ))  # the runs table renders only the rows that fit the window
echo "MLflow UI at $base lists $listed distinct candidate run names ($expected candidate names in experiment '$experiment')"
if (( expected == 0 || listed < wanted )); then
    echo "error: expected at least $wanted candidate runs on $url" >&2
    exit 1
fi
