"""The committed dvc.lock matches the committed code and params, so a fresh clone's `dvc status` is true.

dvc.lock records what each stage ran with. If code or params change and nobody reruns the pipeline,
the lock still names the old hashes: a teammate's `dvc pull` then fetches outputs of code that no
longer exists, and `dvc repro` reruns stages nobody expected. `stale_lock_entries` asks `dvc status`
and keeps what git holds: changed code or params deps, a changed command, and the `cache: false`
outputs (metrics/) that git keeps next to the lock. Outputs DVC keeps (data/prepared, models/...),
and deps that are or hold such outputs (data/raw, which holds data/raw/builtin), are missing in a
fresh clone until `dvc pull`, so they are allowed to differ.
"""

from __future__ import annotations

import json
import posixpath
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]

FIX = "rerun `make run` (dvc repro), then `git add dvc.lock metrics/ && git commit`"


def _entries(stage: dict[str, Any]) -> list[tuple[str, bool]]:
    """A dvc.yaml stage's outputs as (path, cached); an entry is a path or {path: {cache: ..., ...}}."""
    wdir = stage.get("wdir", ".")
    found = []
    for kind in ("outs", "metrics", "plots"):
        for entry in stage.get(kind) or []:
            path, options = (entry, {}) if isinstance(entry, str) else next(iter(entry.items()))
            found.append((posixpath.normpath(posixpath.join(wdir, path)), (options or {}).get("cache", True)))
    return found


def _stages(repo: Path, name: str) -> dict[str, Any]:
    """The stages of dvc.yaml or dvc.lock in `repo`; none if the file is missing or empty."""
    path = repo / name
    return (yaml.safe_load(path.read_text()) or {}).get("stages") or {} if path.exists() else {}


def dvc_outputs(repo: Path) -> tuple[set[str], set[str]]:
    """Every output DVC tracks (dvc.yaml's stages and `dvc add`'s .dvc files), and those git keeps (cache: false)."""
    cached: set[str] = set()
    in_git: set[str] = set()
    for stage in _stages(repo, "dvc.yaml").values():
        for path, cache in _entries(stage):
            (cached if cache else in_git).add(path)
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "--", "*.dvc"],
        cwd=repo,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    for dvc_file in listed:
        folder = posixpath.dirname(dvc_file)
        for out in yaml.safe_load((repo / dvc_file).read_text()).get("outs") or []:
            cached.add(posixpath.normpath(posixpath.join(folder, out["path"])))
    return cached, in_git


def _overlaps(path: str, outputs: set[str]) -> bool:
    """`path` is an output, lies inside one, or holds one (data/raw holds data/raw/builtin)."""
    return any(path == out or out.startswith(path + "/") or path.startswith(out + "/") for out in outputs)


def stale_lock_entries(repo: Path) -> list[str]:
    """What in `repo`'s dvc.lock does not match its code, params and committed metrics, one line each."""
    done = subprocess.run(
        [sys.executable, "-m", "dvc", "status", "--json"], cwd=repo, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, f"dvc status failed in {repo}:\n{done.stdout}\n{done.stderr}"
    cached, in_git = dvc_outputs(repo)
    stages, locked = _stages(repo, "dvc.yaml"), _stages(repo, "dvc.lock")
    stale = []
    for stage, changes in json.loads(done.stdout or "{}").items():
        if stage in stages and stage not in locked:
            stale.append(f"{stage}: not in dvc.lock (never run, or run without committing dvc.lock)")
            continue
        for change in changes:
            if isinstance(change, str):  # "changed command", "changed checksum", "always changed"
                if change != "always changed":
                    stale.append(f"{stage}: {change}")
                continue
            for path, state in change.get("changed deps", {}).items():
                if isinstance(state, dict):  # a params file: {key: "modified" | "new" | "deleted"}
                    stale += [f"{stage}: {path} {key} {key_state}" for key, key_state in state.items()]
                elif not _overlaps(path, cached | in_git):
                    stale.append(f"{stage}: {path} {state}")
            for path, state in change.get("changed outs", {}).items():
                if path in in_git:
                    stale.append(f"{stage}: {path} {state} (git keeps it with dvc.lock)")
    return stale


def test_the_committed_dvc_lock_matches_the_code_and_params() -> None:
    stale = stale_lock_entries(REPO)
    assert not stale, "dvc.lock is stale:\n  " + "\n  ".join(stale) + f"\nFix: {FIX}."
