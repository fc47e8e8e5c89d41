"""`nas data add PATH`: a user's dataset checked, put under data/raw, `dvc add`ed and named in params.yaml.

A thin layer over `dvc add`: everything it does can be done by hand (copy, `dvc add`, edit two
lines of params.yaml), and docs/operations/dvc.md shows both ways. What it adds is the order:
the dataset is read with the loader the prepare stage uses, and params.yaml is edited in memory
and checked, before anything is copied or handed to DVC, so a dataset or params file that would
fail later fails here with the loader's message and nothing changed.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import yaml

from flows.io.datasets import load_dataset
from flows.io.paths import BUILTIN_DIR, RAW_DIR
from nas_core.config import DataConfig, validate_config
from nas_core.errors import NasError


@dataclass(frozen=True)
class AddedDataset:
    """What `add_dataset` did, for the command to print."""

    source: str  # npz | image_folder
    path: str  # data.path as written to params.yaml: relative to the project root
    copied_from: Path | None  # the given PATH, when it was copied under data/raw
    dvc_file: str
    commit: list[str]  # the files to commit with git next
    examples: int
    num_classes: int
    input_shape: tuple[int, ...]


def add_dataset(given: Path, root: Path, params: Path) -> AddedDataset:
    """Check `given`, copy it under data/raw unless it is there, `dvc add` it, point params.yaml's data at it."""
    root = root.resolve()
    if not (root / ".dvc").is_dir():
        raise NasError(f"{root}: not a DVC project (no .dvc folder); run `dvc init` there first")
    source_path = given.expanduser().resolve()
    source = dataset_kind(given, source_path)
    raw = (root / RAW_DIR).resolve()
    inside = source_path.is_relative_to(raw) and source_path != raw
    if source_path == raw or source_path.is_relative_to(root / BUILTIN_DIR):
        raise NasError(f"{given}: give one dataset inside {RAW_DIR}/, not {RAW_DIR} or the raw stage's {BUILTIN_DIR}")
    target = source_path if inside else raw / source_path.name
    if not inside and target.exists():
        raise NasError(
            f"{given}: would be copied to {target.relative_to(root)}, which already exists; "
            "remove it, or rename the dataset"
        )
    relative = target.relative_to(root).as_posix()

    # The checks that can fail come first: the data with the prepare stage's own loader, then params.yaml.
    x, y = load_dataset(DataConfig(source=source, path=str(source_path)), root)
    params_text = params_with_data_source(params, source, relative)

    if not inside:
        copy_dataset(source_path, target)
    try:
        run_dvc_add(relative, root)
    except BaseException:
        if not inside:  # nothing is added: the copy goes again
            remove(target)
        raise
    write_text_atomically(params, params_text)

    dvc_file = f"{relative}.dvc"
    gitignore = target.parent / ".gitignore"
    commit = [dvc_file, *([gitignore.relative_to(root).as_posix()] if gitignore.is_file() else [])]
    commit.append(
        params.resolve().relative_to(root).as_posix() if params.resolve().is_relative_to(root) else str(params)
    )
    shape = tuple(int(d) for d in x.shape[1:])
    return AddedDataset(
        source=source,
        path=relative,
        copied_from=None if inside else source_path,
        dvc_file=dvc_file,
        commit=commit,
        examples=len(y),
        num_classes=len(np.unique(y)),
        input_shape=shape if len(shape) == 3 else (*shape, 1),
    )


def dataset_kind(given: Path, path: Path) -> Literal["npz", "image_folder"]:
    """`image_folder` for a folder, `npz` for an .npz file; anything else is refused."""
    if not path.exists():
        raise NasError(f"{given}: does not exist")
    if path.is_dir():
        return "image_folder"
    if path.suffix.lower() == ".npz":
        return "npz"
    raise NasError(
        f"{given}: give a folder with one sub-folder of images per class, or an .npz file with arrays x and y"
    )


def copy_dataset(source: Path, target: Path) -> None:
    """Copy a file or folder into place; a failed copy leaves nothing half-copied behind."""
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.partial")
    try:
        if source.is_dir():
            shutil.copytree(source, partial)
        else:
            shutil.copy2(source, partial)
        partial.rename(target)
    finally:
        remove(partial)


def remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)


def dvc_command() -> list[str]:
    """The dvc installed next to the running Python (the project's venv), whether or not PATH has it."""
    script = Path(sys.executable).with_name("dvc")
    return [str(script)] if script.is_file() else [sys.executable, "-m", "dvc"]


def run_dvc_add(relative: str, root: Path) -> None:
    command = [*dvc_command(), "add", relative]
    try:
        done = subprocess.run(command, cwd=root, capture_output=True, text=True, check=False, timeout=3600)
    except (OSError, subprocess.TimeoutExpired) as error:
        raise NasError(f"dvc add {relative}: could not run dvc ({error})") from None
    if done.returncode != 0:
        said = [line.strip() for line in (done.stderr or done.stdout).splitlines() if line.strip()]
        raise NasError(f"dvc add {relative} failed: {' '.join(said[-3:]) or f'exit code {done.returncode}'}")


def write_text_atomically(path: Path, text: str) -> None:
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(text)
    partial.replace(path)


# --- params.yaml: edit the two lines, keep every comment and the layout ---------------------------------

_SECTION = re.compile(r"data:[ \t]*(#.*)?")
_VALUE = r"""(?P<value>"(?:[^"\\\n]|\\.)*"|'(?:[^'\n]|'')*'|(?:[^\s#]|(?<=\S)#)(?:[^\n#]|(?<=\S)#)*?)?"""


def _key_line(key: str) -> re.Pattern[str]:
    return re.compile(rf"(?P<indent>[ \t]+){key}:(?P<space>[ \t]*){_VALUE}(?P<gap>[ \t]*)(?P<comment>#.*)?")


def _has_key(pattern: re.Pattern[str], line: str, indent: str) -> bool:
    match = pattern.fullmatch(line.rstrip("\r\n"))
    return match is not None and match["indent"] == indent


def yaml_scalar(value: str | None) -> str:
    """A value as YAML writes it: plain when that reads back as the same string, else double-quoted."""
    if value is None:
        return "null"
    if re.fullmatch(r"[A-Za-z0-9_.~/][A-Za-z0-9_./@+~-]*", value) and yaml.safe_load(value) == value:
        return value
    return json.dumps(value)  # a JSON string is a double-quoted YAML scalar


def params_with_data_source(params: Path, source: str, path: str) -> str:
    """params.yaml's text with `data.source` and `data.path` set and every other byte kept; checked before use."""
    if not params.is_file():
        raise NasError(f"{params}: params file not found")
    text = params.read_text()
    try:
        before = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise NasError(f"{params}: not valid YAML ({error}); fix it first") from None
    try:
        edited = set_data_keys(text, {"source": source, "path": path})
    except ValueError as error:
        raise NasError(f"{params}: {error}; add one with source: {source} and path: {path}") from None
    expected = dict(before) if isinstance(before, dict) else {}
    expected["data"] = {**(expected.get("data") or {}), "source": source, "path": path}
    after = yaml.safe_load(edited)
    if after != expected:
        raise NasError(
            f"{params}: could not set data.source and data.path without changing anything else; "
            f"set them by hand (source: {source}, path: {path}) and run `dvc add {path}`"
        )
    validate_config(after, source=str(params))  # the config the stages will read is valid
    return edited


def set_data_keys(text: str, values: dict[str, str | None]) -> str:
    """Set keys of the top-level `data:` block in YAML text by editing their lines only.

    A value keeps its line's comment, at the same column when the new value fits before it. A key
    the block lacks is added after the block's last key. A flow-style `data: {...}` is not edited:
    ValueError, as for a text with no `data:` block.
    """
    lines = text.splitlines(keepends=True)
    start = next((i for i, line in enumerate(lines) if _SECTION.fullmatch(line.rstrip("\r\n"))), None)
    if start is None:
        raise ValueError("has no top-level `data:` block")
    end = start + 1
    while end < len(lines) and (not lines[end].strip() or lines[end][0] in " \t#"):
        end += 1
    block = range(start + 1, end)
    keys = [i for i in block if re.match(r"[ \t]+[A-Za-z_]\w*:", lines[i])]
    indent = lines[keys[0]][: len(lines[keys[0]]) - len(lines[keys[0]].lstrip(" \t"))] if keys else "  "
    newline = "\r\n" if lines[start].endswith("\r\n") else "\n"
    for key, value in values.items():
        pattern = _key_line(key)
        found = next((i for i in keys if _has_key(pattern, lines[i], indent)), None)
        if found is None:
            at = (keys[-1] if keys else start) + 1
            if not lines[at - 1].endswith(("\n", "\r")):
                lines[at - 1] += newline
            lines.insert(at, f"{indent}{key}: {yaml_scalar(value)}{newline}")
            keys = [*[k if k < at else k + 1 for k in keys], at]
            continue
        line = lines[found]
        ending = line[len(line.rstrip("\r\n")) :]
        match = pattern.fullmatch(line.rstrip("\r\n"))
        assert match is not None
        head = f"{indent}{key}:{match['space'] or ' '}{yaml_scalar(value)}"
        comment = match["comment"]
        if comment:
            column = match.start("comment")
            head += " " * max(1, column - len(head)) + comment
        lines[found] = head + ending
    return "".join(lines)
