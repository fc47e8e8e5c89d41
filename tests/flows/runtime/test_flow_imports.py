"""The flow process leaves TensorFlow to its workers: importing it costs every stage seconds of start-up.

Candidates train in worker processes; the flow only orchestrates, tracks and reports. A module that
imports Keras at its top, pulled in by a stage, would add that import to every `python -m flows.<stage>`
and every `dvc repro` stage, so this is checked in a fresh interpreter.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

SCRIPT = """
import json, sys
from pathlib import Path
import flows.cli, flows.pipeline, flows.schedule, flows.search
from flows.reports.architecture import draw_architecture
arch = {"nodes": ["input", "conv3x3-16", "maxpool", "output"], "edges": [[0, 1], [1, 2], [0, 2], [2, 3]]}
drawn = draw_architecture(arch, Path(sys.argv[1]), (8, 8, 1), 10)
print(json.dumps({"drawn": drawn, "loaded": sorted(m for m in ("keras", "tensorflow") if m in sys.modules)}))
"""


def test_stages_and_the_winner_drawing_import_no_tensorflow(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(tmp_path / "winner.png")], capture_output=True, text=True, check=True
    )
    outcome = json.loads(done.stdout.strip().splitlines()[-1])
    assert outcome["loaded"] == [], f"the flow process imported {outcome['loaded']}"
    assert outcome["drawn"] == "graphviz" and (tmp_path / "winner.png").stat().st_size > 1000
