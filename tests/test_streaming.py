"""Streamed data at scale: folder: and tfds stream in constant memory, unreadable files
are skipped and listed, caching follows one rule, every source shards, and the JAX
backend trains from the same tf.data pipeline."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from builder.data import Shard, load_data, parse_source
from builder.data.protocol import Arrays, Files, Request
from conftest import cli_env

ROOT = Path(__file__).resolve().parents[1]


def _benchmark():
    """benchmarks/images.py, whose folder generator the tests share."""
    spec = importlib.util.spec_from_file_location("benchmark_images",
                                                  ROOT / "benchmarks" / "images.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def write_folder(root: Path, images: int, classes: int = 3, size=(24, 20), corrupt=()):
    """A folder of generated JPEGs, and files in ``corrupt`` that are not images."""
    _benchmark().write_jpeg_folder(root, images, classes=classes, size=size)
    for name in corrupt:
        (root / name).write_bytes(b"\xff\xd8\xff\xe0 a truncated jpeg")
    return root


# ------------------------------------------------------------------ bad files, cache

def test_train_skips_corrupt_files_and_lists_them(tmp_path, cli):
    data = write_folder(tmp_path / "pets", 90, corrupt=("c0/bad.jpg", "c2/worse.jpg"))
    out = cli("train", "lenet5", "--data", f"folder:{data}", "--epochs", "1",
              "--precision", "float32", "--max-bad-files", "0.05", "--out", tmp_path / "run",
              timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    listed = (tmp_path / "run" / "skipped.txt").read_text().split()
    assert listed == [str(data / "c0" / "bad.jpg"), str(data / "c2" / "worse.jpg")]
    assert "2 unreadable files skipped (listed in skipped.txt)" in out.stdout
    assert "cached in memory (auto:" in out.stdout
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["unreadable_files"] == 2
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["data"]["cache"]["mode"] == "memory"
    assert config["data"]["pipeline"] == "tf"
    # Checked before training: too many bad headers stop the run before anything is written.
    bad = cli("train", "lenet5", "--data", f"folder:{data}", "--epochs", "1", "--check-data",
              "--out", tmp_path / "bad")
    assert bad.returncode == 2
    assert "2 of 92 files (2.2%) cannot be read, more than --max-bad-files 0.01" in bad.stderr
    assert not (tmp_path / "bad").exists()
    # Found while training: the epoch is kept, the files listed, the run stopped.
    stopped = cli("train", "lenet5", "--data", f"folder:{data}", "--epochs", "2",
                  "--precision", "float32", "--out", tmp_path / "stopped", timeout=600)
    assert stopped.returncode == 2
    assert "cannot be read, more than --max-bad-files 0.01" in stopped.stderr
    kept = tmp_path / ".stopped.partial"
    assert f"all are listed in {kept / 'skipped.txt'}" in stopped.stderr
    assert len((kept / "skipped.txt").read_text().split()) == 2


def test_cache_choices_give_the_same_data(tmp_path, tiny_tfds):
    data = write_folder(tmp_path / "pets", 30)
    kw = dict(input_shape=(8, 8, 3), classes=3, batch_size=4)
    for source, extra in ((f"folder:{data}", {}), ("tfds:builder_data_tiny",
                                                    {"data_dir": str(tiny_tfds)})):
        seen = {}
        for cache in ("none", "memory", str(tmp_path / "cache"), "auto"):
            splits = load_data(source, cache=cache, **kw, **extra)
            mode = splits.cache.mode
            assert mode == {"none": "none", "memory": "memory", "auto": "memory"}.get(
                cache, "directory")
            for epoch in range(2):  # the second epoch reads the cache
                test = np.concatenate([x for x, _ in splits.test.as_numpy_iterator()])
                labels = np.concatenate([y for _, y in splits.train.as_numpy_iterator()])
                seen.setdefault("test", test)
                seen.setdefault("labels", np.sort(labels))
                np.testing.assert_allclose(test, seen["test"], atol=1e-6)
                np.testing.assert_array_equal(np.sort(labels), seen["labels"])
        assert any((tmp_path / "cache").glob("train-*.index"))
    assert load_data("digits", input_shape=(8, 8, 1), classes=10).cache.mode == "source"


def test_cache_auto_rule_and_bad_values(tmp_path, monkeypatch):
    from builder.data import cache as cache_mod
    from builder.errors import ArgumentError

    monkeypatch.setattr(cache_mod, "available_memory", lambda: 4 * 1000 * 224 * 224 * 3 * 4)
    assert cache_mod.decide("auto", 1000, (224, 224, 3)).mode == "memory"
    assert cache_mod.decide("auto", 1001 * 4, (224, 224, 3)).mode == "none"
    assert "does not fit in 25%" in cache_mod.decide("auto", 5000, (224, 224, 3)).text()
    (tmp_path / "file").write_text("x")
    with pytest.raises(ArgumentError, match="is a file"):
        cache_mod.check_cache(str(tmp_path / "file"))
    with pytest.raises(ArgumentError, match="did you mean 'memory'"):
        cache_mod.check_cache("memroy")
    assert cache_mod.check_cache("./memroy") == str(Path.cwd() / "memroy")


# ------------------------------------------------------------------------- sharding

def _keys(part) -> list:
    """What identifies each example of a part, sorted (with repeats)."""
    if isinstance(part, Files):
        return sorted(part.paths)
    if isinstance(part, Arrays):
        return sorted(x.tobytes() + y.tobytes() for x, y in zip(part.x, part.y))
    return sorted(x.tobytes() + y.tobytes() for x, y in part.dataset.as_numpy_iterator())


@pytest.mark.parametrize("count", [2, 3])
def test_shards_are_disjoint_and_cover_each_split(tmp_path, tiny_tfds, count):
    data = write_folder(tmp_path / "pets", 40)
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "d.npz", x=rng.integers(0, 256, (50, 6, 6), np.uint8),
             y=np.arange(50) % 2)
    sources = {f"folder:{data}": 3, f"npz:{tmp_path / 'd.npz'}": 2, "digits": 10,
               "tfds:builder_data_tiny": 3}
    for text, classes in sources.items():
        src = parse_source(text)
        request = Request((8, 8, 3), classes, seed=3, data_dir=str(tiny_tfds))
        whole = src.open(request).parts
        shards = [src.open(Request((8, 8, 3), classes, seed=3, data_dir=str(tiny_tfds),
                                   shard=Shard(i, count))).parts for i in range(count)]
        for name in ("train", "validation", "test"):
            pieces = [_keys(shard[name]) for shard in shards]
            assert sorted(k for piece in pieces for k in piece) == _keys(whole[name]), text
            sizes = [len(p) for p in pieces]
            assert max(sizes) - min(sizes) <= 1, (text, name, sizes)
            if text != "npz:" + str(tmp_path / "d.npz"):  # its examples repeat
                assert len(set().union(*map(set, pieces))) == sum(sizes), (text, name)
        # Equal shards (a job streaming through tf.data): the same size each, the first
        # n - n % count examples between them, the rest counted as left out.
        equal = [src.open(Request((8, 8, 3), classes, seed=3, data_dir=str(tiny_tfds),
                                  shard=Shard(i, count, equal=True))) for i in range(count)]
        for name in ("train", "validation", "test"):
            n = whole[name].size
            pieces = [_keys(opened.parts[name]) for opened in equal]
            assert {len(p) for p in pieces} == {n // count}, (text, name)
            assert set().union(*map(set, pieces)) <= set(_keys(whole[name])), text
        assert {o.left_out for o in equal} == {sum(p.size % count for p in whole.values())}


# ------------------------------------------------------------------------- backends

@pytest.mark.slow
def test_jax_backend_trains_from_the_tf_data_stream(tmp_path, cli):
    pytest.importorskip("jax")
    data = write_folder(tmp_path / "pets", 60, corrupt=("c1/bad.jpg",))
    out = cli("train", "lenet5", "--data", f"folder:{data}", "--epochs", "1", "--precision",
              "float32", "--max-bad-files", "0.05", "--out", tmp_path / "run",
              env={"KERAS_BACKEND": "jax"}, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["backend"] == "jax" and config["data"]["pipeline"] == "tf"
    assert (tmp_path / "run" / "skipped.txt").read_text().split() == [str(data / "c1" / "bad.jpg")]


@pytest.mark.slow
def test_mirrored_strategy_streams_and_lists_bad_files(tmp_path):
    """tf.distribute rebatches the stream (its skip marks included) over two devices."""
    data = write_folder(tmp_path / "pets", 60, corrupt=("c1/bad.jpg",))
    script = (
        "import sys, tensorflow as tf\n"
        "cpu = tf.config.list_physical_devices('CPU')[0]\n"
        "tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)\n"
        "from builder.training import TrainOptions, train\n"
        "train('lenet5', TrainOptions(data=sys.argv[1], epochs=1, precision='float32', "
        "strategy='mirrored', max_bad_files=0.05), out=sys.argv[2], verbose=0)\n")
    out = subprocess.run([sys.executable, "-c", script, f"folder:{data}", str(tmp_path / "run")],
                         env=cli_env(), capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "mirrored over 2 devices" in out.stdout
    assert (tmp_path / "run" / "skipped.txt").read_text().split() == [str(data / "c1" / "bad.jpg")]


# ---------------------------------------------------------------------------- scale

@pytest.mark.slow
def test_thirty_thousand_files_train_in_bounded_memory(tmp_path):
    """30,000 JPEGs train one epoch of a small blueprint with a peak below 3 GB."""
    data = write_folder(tmp_path / "many", 30_000, classes=10, size=(40, 32))
    script = ("import resource, subprocess, sys\n"
              "subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL)\n"
              "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n")
    command = [sys.executable, "-c", script, sys.executable, "-m", "builder", "train", "lenet5",
               "--data", f"folder:{data}", "--epochs", "1", "--precision", "float32",
               "--batch-size", "128", "--out", str(tmp_path / "run")]
    out = subprocess.run(command, env=cli_env(), capture_output=True, text=True, timeout=1800)
    assert out.returncode == 0, out.stderr[-2000:]
    peak_mb = int(out.stdout.split()[-1]) / 1024
    print(f"peak resident memory {peak_mb:.0f} MB")  # shown with pytest -s
    assert peak_mb < 3000, peak_mb
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["epochs_completed"] == 1


# ------------------------------------------------------------------ streamed files, imagenet


@pytest.mark.parametrize("cache", ["none", "memory"])
def test_a_streamed_folder_takes_the_imagenet_transforms_at_native_size(tmp_path, cache):
    """Large inputs from a folder: auto picks imagenet; files are decoded at their own
    size (cached so under memory) and cropped, not squashed to the input first."""
    from builder.data.transforms import Transform
    from builder.data.tf_pipeline import stored_examples, to_arrays

    root = write_folder(tmp_path / "images", 12, classes=2, size=(200, 150), corrupt=["c0/bad.jpg"])
    data = load_data(f"folder:{root}", input_shape=(128, 128, 3), classes=2, batch_size=4,
                     cache=cache, validation_split=0.0, test_split=0.25)
    assert data.transform["train_transform"] == "imagenet"
    for _ in range(2):  # a second epoch reads the cache where there is one
        batches = list(data.train.as_numpy_iterator())
        assert all(images.shape[1:] == (128, 128, 3) for images, _ in batches)
        assert 0.0 <= min(b[0].min() for b in batches) and max(b[0].max() for b in batches) <= 1.0
    x, y = data.sample(3)
    assert x.shape == (3, 128, 128, 3) and y.dtype == np.int32
    # The evaluation examples are the centre crops of the images at their stored size:
    # 150 px high -> resized to cover round(128 / 0.875) = 146, then the centre 128x128.
    src = parse_source(f"folder:{root}")
    opened = src.open(Request((128, 128, 3), 2, validation_split=0.0, test_split=0.25))
    part = opened.parts["test"]
    assert isinstance(part, Files)
    expected, _ = to_arrays(stored_examples(part, 3), opened.plan, Transform("imagenet"))
    np.testing.assert_allclose(x, expected, atol=1e-6)
    assert not np.allclose(x, part.head(3, opened.plan)[0], atol=0.02)  # not squashed


def test_the_numpy_pipeline_caches_nothing_and_says_so(tmp_path):
    from builder.errors import ArgumentError

    root = write_folder(tmp_path / "images", 12, classes=2)
    data = load_data(f"folder:{root}", input_shape=(20, 24, 3), classes=2, pipeline="numpy")
    assert data.cache.record()["mode"] == "none"
    with pytest.raises(ArgumentError, match="numpy pipeline caches nothing"):
        load_data(f"folder:{root}", input_shape=(20, 24, 3), classes=2, pipeline="numpy",
                  cache="memory")
