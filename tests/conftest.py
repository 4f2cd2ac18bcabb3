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


@pytest.fixture(scope="session")
def tiny_tfds(tmp_path_factory):
    """A real tfds dataset (variable image sizes, train split only), prepared locally."""
    import numpy as np
    import tensorflow_datasets as tfds

    class BuilderDataTiny(tfds.core.GeneratorBasedBuilder):
        VERSION = tfds.core.Version("1.0.0")

        def _info(self):
            return tfds.core.DatasetInfo(builder=self, features=tfds.features.FeaturesDict({
                "image": tfds.features.Image(shape=(None, None, 3)),
                "label": tfds.features.ClassLabel(names=["a", "b", "c"]),
            }))

        def _split_generators(self, dl_manager):
            return {"train": self._generate_examples(30)}

        def _generate_examples(self, n):
            rng = np.random.default_rng(0)
            for i in range(n):
                size = (9 + i % 4, 11 + i % 3, 3)
                yield i, {"image": rng.integers(0, 256, size, dtype=np.uint8), "label": i % 3}

    data_dir = tmp_path_factory.mktemp("tfds")
    builder = tfds.builder("builder_data_tiny", data_dir=str(data_dir))
    builder.download_and_prepare(
        download_config=tfds.download.DownloadConfig(try_download_gcs=False))
    return data_dir
