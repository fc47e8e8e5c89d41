#!/usr/bin/env bash
# Screenshots of the MLflow UI as a person sees it after `make run`: start `nas ui`, open the experiment's training
# runs and the best candidate's run page in headless Chromium, and save them as PNGs.
#
#   scripts/screenshot_mlflow_ui.sh [PARAMS] [OUT_DIR]      (defaults: params.yaml, docs)
#
# Writes OUT_DIR/mlflow_runs.png (the candidate runs, best val_accuracy first, with the val_accuracy column) and
# OUT_DIR/mlflow_candidate.png (the best candidate's run page). With DOM_DIR set, the rendered pages are kept there
# too (mlflow_runs.html, mlflow_candidate.html). It fails unless the runs page lists val_accuracy and candidate runs.
# Env: PORT (5056), PYTHON (.venv/bin/python), CHROMIUM.
#
# How the page is set up, since MLflow 3.17's UI keeps it in the browser, not in the URL:
# - `workflowType=machine_learning`: the sidebar's GenAI / Model training switch, which picks the experiment's
#   landing page (GenAI overview or runs). A fresh browser starts on GenAI, whatever the experiment's kind tag.
# - The URL carries only the search (searchFilter, orderByKey, orderByAsc, ...). The columns shown live in the
#   browser's localStorage, or in a shared view: an experiment tag `mlflow.sharedViewState.<key>` holding the view as
#   JSON, opened with `viewStateShareKey=<key>` (as the UI's own share links are). This script writes the view
#   `nas-candidates` on the experiment: candidates only, sorted by val_accuracy, with their metrics and search tags.
# - The MLflow Assistant panel opens by itself on a first visit to a UI on localhost, and would cover a third of the
#   page. So Chromium opens the UI under another name (nas-ui.test, mapped to 127.0.0.1), which this UI alone is
#   told to accept (MLflow's host and CORS checks).
set -euo pipefail

params="${1:-params.yaml}"
out_dir="${2:-docs}"
port="${PORT:-5056}"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
python="${PYTHON:-$here/.venv/bin/python}"
chromium="${CHROMIUM:-$(command -v chromium || command -v chromium-browser || true)}"
host="nas-ui.test"
base="http://$host:$port"
api="http://127.0.0.1:$port"
view="nas-candidates"

if [[ -z "$chromium" ]]; then
    echo "error: chromium not found; install it with: apt-get update && apt-get install -y chromium" >&2
    exit 2
fi
mkdir -p "$out_dir"

workdir="$(mktemp -d)"
log="$workdir/ui.log"
MLFLOW_SERVER_ALLOWED_HOSTS="$host:$port,127.0.0.1:$port,localhost:$port" \
    MLFLOW_SERVER_CORS_ALLOWED_ORIGINS="$base" \
    setsid "$python" -m flows.cli ui --params "$params" --host 127.0.0.1 --port "$port" >"$log" 2>&1 &
ui_pid=$!
cleanup() {
    kill -TERM -- "-$ui_pid" 2>/dev/null || true
    rm -rf "$workdir"
}
trap cleanup EXIT

for _ in $(seq 1 180); do  # the UI takes 10 s to start on an idle machine, a minute on a busy one
    if curl -fsS "$api/health" >/dev/null 2>&1; then break; fi
    if ! kill -0 "$ui_pid" 2>/dev/null; then
        echo "error: the MLflow UI did not start:" >&2
        cat "$log" >&2
        exit 1
    fi
    sleep 1
done
curl -fsS "$api/health" >/dev/null || { echo "error: the MLflow UI did not answer on $api" >&2; exit 1; }

# The experiment, the shared view of its candidates, and the best candidate (by val_accuracy).
found="$("$python" - "$api" "$params" "$view" <<'PY'
import json, sys, urllib.parse, urllib.request

from flows.io.params import load_params

api, params, view = sys.argv[1:]
name = load_params(params).tracking.experiment


def call(path, body=None):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(api + path, data, {"Content-Type": "application/json"})
    return json.load(urllib.request.urlopen(request, timeout=30))


exp_id = call("/api/2.0/mlflow/experiments/get-by-name?" + urllib.parse.urlencode({"experiment_name": name}))
exp_id = exp_id["experiment"]["experiment_id"]
candidates = "tags.`nas.kind` = 'candidate'"
state = {
    "searchFilter": candidates,
    "orderByKey": "metrics.`val_accuracy`",
    "orderByAsc": False,
    "selectedColumns": [
        "attributes.`Source`",
        *(f"metrics.`{m}`" for m in ("val_accuracy", "val_accuracy_low", "val_accuracy_high", "params")),
        *(f"tags.`{t}`" for t in ("nas.strategy", "nas.search_seed", "nas.objective")),
    ],
}
tag = {"experiment_id": exp_id, "key": f"mlflow.sharedViewState.{view}", "value": json.dumps(state)}
call("/api/2.0/mlflow/experiments/set-experiment-tag", tag)
query = {"experiment_ids": [exp_id], "filter": candidates, "max_results": 1, "order_by": ["metrics.val_accuracy DESC"]}
runs = call("/api/2.0/mlflow/runs/search", query).get("runs", [])
print(exp_id, runs[0]["info"]["run_id"] if runs else "")
PY
)" || { echo "error: could not read the experiment of $params through the MLflow API at $api" >&2; exit 1; }
read -r experiment_id best_run <<<"$found"
if [[ -z "$best_run" ]]; then
    echo "error: experiment $experiment_id has no candidate runs; run the pipeline first (make run)" >&2
    exit 1
fi

shoot() {  # shoot NAME URL: OUT_DIR/NAME.png and the rendered DOM, in one page load
    local name="$1" url="$2"
    timeout 180 "$chromium" --headless --no-sandbox --disable-gpu --disable-background-networking \
        --disable-component-update --disable-sync --no-first-run --user-data-dir="$workdir/profile-$name" \
        --host-resolver-rules="MAP $host 127.0.0.1" --hide-scrollbars --window-size=1600,1000 \
        --virtual-time-budget=20000 --screenshot="$out_dir/$name.png" --dump-dom "$url" \
        >"$workdir/$name.html" 2>/dev/null
    if [[ -n "${DOM_DIR:-}" ]]; then mkdir -p "$DOM_DIR" && cp "$workdir/$name.html" "$DOM_DIR/"; fi
}

ml="workflowType=machine_learning"
shoot mlflow_runs "$base/#/experiments/$experiment_id/runs?viewStateShareKey=$view&$ml"
shoot mlflow_candidate "$base/#/experiments/$experiment_id/runs/$best_run?$ml"

listed="$(grep -o 'candidate-[0-9][0-9][0-9]' "$workdir/mlflow_runs.html" | sort -u | wc -l)"
if ! grep -q 'val_accuracy' "$workdir/mlflow_runs.html" || (( listed == 0 )); then
    echo "error: the runs page shows no val_accuracy column or no candidate runs; see $out_dir/mlflow_runs.png" >&2
    exit 1
fi
echo "wrote $out_dir/mlflow_runs.png ($listed candidate runs, val_accuracy shown) and $out_dir/mlflow_candidate.png"
