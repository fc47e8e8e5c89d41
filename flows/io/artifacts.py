"""The JSON files stages hand to each other: written atomically, read with an error that names the file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from flows.io.paths import BEST_ARCHITECTURE, PREPARED_DIR
from nas_core.errors import NasError
from nas_core.prepared import MANIFEST_NAME


def write_json(path: Path, data: Any) -> None:
    """Write through a temporary file, so a killed stage never leaves half a JSON file behind."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True, default=str) + "\n")
    tmp.replace(path)


def read_manifest(data_dir: Path = PREPARED_DIR) -> dict[str, Any]:
    """The prepared data's manifest (shapes, classes, content hash), written by the prepare stage."""
    path = data_dir / MANIFEST_NAME
    if not path.is_file():
        raise NasError(f"{path}: prepared data not found; run the prepare stage first (dvc repro, or nas prepare)")
    manifest: dict[str, Any] = json.loads(path.read_text())
    return manifest


def read_winner(path: Path = BEST_ARCHITECTURE) -> dict[str, Any]:
    """The search stage's winner record, which the retrain stage trains."""
    if not path.is_file():
        raise NasError(f"{path}: no winner to retrain; run the search stage first (dvc repro, or nas search)")
    winner: dict[str, Any] = json.loads(path.read_text())
    return winner
