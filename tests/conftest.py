import os
import subprocess
import sys
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

ROOT = Path(__file__).resolve().parents[1]


def run_cli(*args, cwd=None, timeout=300, env=None) -> subprocess.CompletedProcess:
    """``python -m builder ARGS`` in a subprocess, as a user runs it: this checkout first on
    PYTHONPATH (whatever the working directory), ``env`` added to the environment, text
    output captured."""
    path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)
    full = {**os.environ, "PYTHONPATH": path, "TF_CPP_MIN_LOG_LEVEL": "3", **(env or {})}
    return subprocess.run([sys.executable, "-m", "builder", *map(str, args)], cwd=cwd,
                          env=full, capture_output=True, text=True, timeout=timeout)


@pytest.fixture
def cli():
    """``cli(*args, cwd=None, timeout=300, env=None) -> CompletedProcess``: the command
    line in a subprocess (see ``run_cli``)."""
    return run_cli
