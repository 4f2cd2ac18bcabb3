import os
import subprocess
import sys
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

ROOT = Path(__file__).resolve().parents[1]


def cli_env(env=None) -> dict:
    """The environment of the command line as a user runs it: this checkout first on
    PYTHONPATH (whatever the working directory), ``env`` added."""
    path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)
    return {**os.environ, "PYTHONPATH": path, "TF_CPP_MIN_LOG_LEVEL": "3", **(env or {})}


def run_cli(*args, cwd=None, timeout=300, env=None) -> subprocess.CompletedProcess:
    """``python -m builder ARGS`` in a subprocess (see ``cli_env``), text output captured."""
    return subprocess.run([sys.executable, "-m", "builder", *map(str, args)], cwd=cwd,
                          env=cli_env(env), capture_output=True, text=True, timeout=timeout)


def start_cli(*args, cwd=None, env=None, **popen) -> subprocess.Popen:
    """``python -m builder ARGS`` started in the background (see ``cli_env``); ``popen``
    goes to ``subprocess.Popen`` (output is discarded unless it says otherwise)."""
    popen = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL, **popen}
    return subprocess.Popen([sys.executable, "-m", "builder", *map(str, args)], cwd=cwd,
                            env=cli_env(env), **popen)


@pytest.fixture
def cli():
    """``cli(*args, cwd=None, timeout=300, env=None) -> CompletedProcess``: the command
    line in a subprocess (see ``run_cli``)."""
    return run_cli
