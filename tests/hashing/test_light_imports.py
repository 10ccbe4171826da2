"""The numpy-only parts of ``hashing`` load without torch (6.6 s and ~800 MB otherwise)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPOSITORY = Path(__file__).resolve().parents[2]


def modules_after(statement: str) -> set[str]:
    """Top-level module names in ``sys.modules`` after ``statement`` in a fresh interpreter."""
    probe = f"import sys\n{statement}\nprint('\\n'.join(sorted(sys.modules)))"
    completed = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=REPOSITORY,
        env={"PYTHONPATH": str(REPOSITORY), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=True,
        timeout=1800,
    )
    return {name.split(".")[0] for name in completed.stdout.split()}


@pytest.mark.parametrize(
    "statement", ["import hashing", "import hashing.retrieval", "import hashing.runtime"]
)
def test_numpy_only_modules_do_not_load_torch(statement: str) -> None:
    loaded = modules_after(statement)
    assert "hashing" in loaded  # the probe ran and imported the package
    assert "torch" not in loaded


def test_the_probe_sees_torch_when_it_is_loaded() -> None:
    """The check above can fail: the hasher does bring torch in."""
    assert "torch" in modules_after("import hashing.hasher")
