"""The DVC version of a data directory, for runs that do not go through `dvc repro`.

The nightly deployment runs the flows directly, so dvc.lock may describe an older run. Hashing the files
on disk the way DVC 3 does gives the same `<md5>.dir` value that `dvc repro` (or `dvc add`) would write,
so a run can record the exact data it read, and that value matches dvc.lock whenever dvc.lock is current.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import yaml

from flows.io.paths import PREPARED_DIR
from nas_core.errors import NasError

DIR_SUFFIX = ".dir"  # DVC marks a directory's hash with it, in .dvc files and dvc.lock alike
PREPARED_OUT = PREPARED_DIR.as_posix()  # how dvc.yaml, and so dvc.lock, spell the prepare stage's output


def _file_md5(path: Path) -> str:
    """DVC 3's "md5" hash of a file: the plain md5 of its bytes (no dos2unix, unlike DVC 2's outputs)."""
    with path.open("rb") as stream:
        return hashlib.file_digest(stream, "md5").hexdigest()


def directory_md5(path: Path) -> str:
    """The `md5` DVC 3 records for `path` as a directory output, computed from the files on disk.

    Reimplemented rather than calling dvc-data, because DVC's rule is short and is its on-disk
    format: the cache stores each directory as this very JSON, so it cannot change without breaking
    every existing cache. dvc-data's own route (`hashfile.build.build`) wants an object database and
    staging file systems just to digest a tree. The rule, from `dvc_data.hashfile.build._build_tree`
    and `hashfile.tree.Tree`: walk the directory as `os.walk` does (symlinked directories are not
    entered, symlinked files are read), list every file as `{"md5": <md5 of its bytes>, "relpath":
    <posix path under the directory>}` sorted by relpath, then take the md5 of
    `json.dumps(that_list, sort_keys=True)` in UTF-8 and append ".dir".

    DVC also drops files its .dvcignore rules match (and `.git`/`.dvc`/`.hg` folders); this function
    applies none, since a stage's output directory holds only what the stage wrote.
    """
    root = Path(path)
    if not root.is_dir():
        raise NasError(f"{root}: not a directory, so it has no DVC directory hash")
    entries: list[dict[str, Any]] = []
    for folder, _dirs, files in os.walk(root):
        for name in files:
            file = Path(folder) / name
            entries.append({"md5": _file_md5(file), "relpath": file.relative_to(root).as_posix()})
    entries.sort(key=lambda entry: entry["relpath"])
    listing = json.dumps(entries, sort_keys=True).encode("utf-8")
    return hashlib.md5(listing).hexdigest() + DIR_SUFFIX


def lock_md5(lock_path: Path, out: str = PREPARED_OUT) -> str | None:
    """The md5 dvc.lock records for the output `out` of any stage; None if there is no lock or no such out.

    A missing value is normal (a fresh clone that never ran `dvc repro`), so it is not an error;
    a lock that is not YAML is, and the message names the file.
    """
    if not lock_path.is_file():
        return None
    try:
        lock = yaml.safe_load(lock_path.read_text())
    except yaml.YAMLError as error:
        raise NasError(f"{lock_path}: not valid YAML ({error})") from error
    stages = lock.get("stages") if isinstance(lock, dict) else None
    if not isinstance(stages, dict):
        return None
    for stage in stages.values():
        outs = stage.get("outs") if isinstance(stage, dict) else None
        for entry in outs or []:
            if isinstance(entry, dict) and entry.get("path") == out and entry.get("md5"):
                return str(entry["md5"])
    return None
