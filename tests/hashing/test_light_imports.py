"""The numpy-only parts of ``hashing`` load without torch (6.6 s and ~800 MB otherwise)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[2]
LIGHT = ("hashing", "hashing.retrieval", "hashing.runtime")

# One fresh interpreter: the light imports, the top-level modules loaded so far, then the
# hasher (which must bring torch in: the probe can see it), the modules again.
PROBE = f"""
import importlib, sys
def loaded():
    return ' '.join(sorted({{name.split('.')[0] for name in sys.modules}}))
for name in {LIGHT!r}:
    importlib.import_module(name)
print(loaded())
import hashing.hasher
print(loaded())
"""


def test_numpy_only_modules_do_not_load_torch() -> None:
    completed = subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=REPOSITORY,
        env={"PYTHONPATH": str(REPOSITORY), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=True,
        timeout=1800,  # a hang guard, not a speed check
    )
    after_light, after_hasher = (set(line.split()) for line in completed.stdout.splitlines())
    assert "hashing" in after_light and "torch" not in after_light
    assert "torch" in after_hasher
