"""The one reader of params.yaml: safe YAML in, a validated `NasConfig` out, or one clear error."""

from __future__ import annotations

from pathlib import Path

import yaml

from nas_core.config import NasConfig, validate_config
from nas_core.errors import NasError

DEFAULT_PARAMS = Path("params.yaml")


def load_params(path: Path | str = DEFAULT_PARAMS) -> NasConfig:
    """Read and validate `path`; every problem is a `NasError` naming the file and the key."""
    path = Path(path)
    if not path.is_file():
        raise NasError(f"{path}: params file not found")
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
        problem = getattr(error, "problem", None) or "invalid YAML"
        raise NasError(f"{path}: not valid YAML{where}: {problem}") from None
    return validate_config(raw, source=str(path))
