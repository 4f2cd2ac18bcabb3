"""Tests for builder.data: sources, splits, adaptation, pipelines, augmentation."""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from builder.data import SOURCES, DataSplits, load_data, parse_source
from builder.data.adapt import plan_adaptation, resize_bilinear
from builder.data.augment import augment_numpy, sample_numpy, transforms
from builder.errors import ArgumentError, DataError

ROOT = Path(__file__).resolve().parents[1]


def first_batch(ds):
    """(x, y) numpy arrays of the first batch of a tf.data.Dataset or PyDataset."""
    if hasattr(ds, "as_numpy_iterator"):
        return next(ds.as_numpy_iterator())
    return ds[0]


def all_batches(ds):
    batches = list(ds.as_numpy_iterator()) if hasattr(ds, "as_numpy_iterator") else \
        [ds[i] for i in range(len(ds))]
    return np.concatenate([b[0] for b in batches]), np.concatenate([b[1] for b in batches])


# ------------------------------------------------------------------------- sources

def test_parse_source_normalizes():
    assert str(parse_source("DIGITS")) == "digits"
    assert str(parse_source("tfds:mnist")) == "tfds:mnist:train"
    assert parse_source("tfds:mnist:train[:10%]").split == "train[:10%]"
    assert parse_source("tfds:mnist:3.0.1:test").arg == "mnist:3.0.1"
    assert str(parse_source("npz:data.npz")) == "npz:" + os.path.abspath("data.npz")
    assert SOURCES == ("digits", "synthetic", "folder", "npz", "tfds")


@pytest.mark.parametrize("source, hint", [
    ("digts", "did you mean 'digits'"),
    ("fodler:/data/x", "did you mean 'folder:/data/x'"),
    ("mydata.npz", "did you mean 'npz:mydata.npz'"),
])
def test_unknown_source_suggests(source, hint):
    with pytest.raises(DataError) as error:
        load_data(source, input_shape=(8, 8, 1), classes=10)
    assert hint in str(error.value)
    assert "one of 'digits', 'synthetic', 'folder:PATH'" in str(error.value)


def test_source_needs_argument():
    with pytest.raises(DataError, match="folder:PATH"):
        parse_source("folder")


def test_bad_arguments():
    with pytest.raises(ArgumentError, match="augmentation 'flp'.*did you mean 'flip'"):
        load_data("digits", input_shape=(8, 8, 1), classes=10, augment=("flp",))
    with pytest.raises(ArgumentError, match="pipeline"):
        load_data("digits", input_shape=(8, 8, 1), classes=10, pipeline="torch")
    with pytest.raises(ArgumentError, match="input_shape"):
        load_data("digits", input_shape=(8, 0, 1), classes=10)
    with pytest.raises(ArgumentError, match="below 1"):
        load_data("digits", input_shape=(8, 8, 1), classes=10, validation_split=0.5,
                  test_split=0.5)


# -------------------------------------------------------------------------- digits

@pytest.mark.parametrize("shape", [(32, 32, 1), (32, 32, 3)])
def test_digits_shapes_and_range(shape):
    splits = load_data("digits", input_shape=shape, classes=10, batch_size=16)
    assert isinstance(splits, DataSplits)
    assert splits.num_train + splits.num_validation + splits.num_test == 1797
    assert (splits.num_validation, splits.num_test) == (180, 359)
    assert splits.class_names == [str(i) for i in range(10)]
    assert splits.source == "digits" and splits.input_shape == shape
    for ds in (splits.train, splits.validation, splits.test):
        x, y = first_batch(ds)
        assert x.shape == (16, *shape) and x.dtype == np.float32
        assert y.shape == (16,) and y.dtype == np.int32
        assert 0.0 <= x.min() and x.max() <= 1.0
    x, y = all_batches(splits.test)
    assert len(y) == 359 and x.max() == pytest.approx(1.0, abs=1e-6)
    if shape[2] == 3:
        np.testing.assert_array_equal(x[..., 0], x[..., 2])


def test_digits_stratified():
    splits = load_data("digits", input_shape=(8, 8, 1), classes=10)
    _, y_test = all_batches(splits.test)
    _, y_val = all_batches(splits.validation)
    from sklearn.datasets import load_digits
    overall = np.bincount(load_digits().target, minlength=10) / 1797
    for y in (y_test, y_val):
        assert np.abs(np.bincount(y, minlength=10) - overall * len(y)).max() <= 1.0
    assert splits.class_counts.sum() == splits.num_train
    assert np.abs(splits.class_counts - overall * splits.num_train).max() <= 2.0


def test_digits_deterministic_with_seed():
    a = load_data("digits", input_shape=(8, 8, 1), classes=10, seed=3)
    b = load_data("digits", input_shape=(8, 8, 1), classes=10, seed=3)
    c = load_data("digits", input_shape=(8, 8, 1), classes=10, seed=4)
    np.testing.assert_array_equal(a.sample(50)[0], b.sample(50)[0])
    np.testing.assert_array_equal(first_batch(a.train)[1], first_batch(b.train)[1])
    assert not np.array_equal(a.sample(50)[0], c.sample(50)[0])


def test_digits_classes_check():
    with pytest.raises(DataError, match=r"digits has 10 classes but the blueprint outputs 5 "
                                        r"\(pass classes=10\)"):
        load_data("digits", input_shape=(8, 8, 1), classes=5)
    wide = load_data("digits", input_shape=(8, 8, 1), classes=12)
    assert len(wide.class_names) == 12 and wide.class_counts[10:].sum() == 0


def test_shape_mismatch_names_source_and_shapes():
    with pytest.raises(DataError, match=r"digits.*\(8, 8, 1\).*\(32, 32, 4\)"):
        load_data("digits", input_shape=(32, 32, 4), classes=10)
    flat = load_data("digits", input_shape=(64,), classes=10)
    assert first_batch(flat.train)[0].shape[1:] == (64,)


# ----------------------------------------------------------------------- synthetic

def test_synthetic_shapes_and_determinism():
    kw = dict(input_shape=(12, 10, 3), classes=4, synthetic_size=100, batch_size=8)
    a, b = load_data("synthetic", seed=1, **kw), load_data("synthetic", seed=1, **kw)
    c = load_data("synthetic", seed=2, **kw)
    assert a.num_train + a.num_validation + a.num_test == 100
    x, y = first_batch(a.train)
    assert x.shape == (8, 12, 10, 3) and y.max() < 4
    np.testing.assert_array_equal(a.sample(20)[0], b.sample(20)[0])
    assert not np.array_equal(a.sample(20)[0], c.sample(20)[0])


def test_synthetic_is_learnable():
    splits = load_data("synthetic", input_shape=(8, 8, 1), classes=5, synthetic_size=300,
                       pipeline="numpy")
    x, y = all_batches(splits.train)
    means = np.stack([x[y == k].mean(axis=0) for k in range(5)])
    xt, yt = splits.sample(1000)
    guess = np.argmin(((xt[:, None] - means[None]) ** 2).sum(axis=(2, 3, 4)), axis=1)
    assert (guess == yt).mean() > 0.9


# -------------------------------------------------------------------------- folder

def make_tree(root: Path, classes=("cat", "dog", "emu"), per_class=10) -> Path:
    rng = np.random.default_rng(0)
    for k, name in enumerate(classes):
        (root / name).mkdir(parents=True)
        for i in range(per_class):
            size = (12 + i % 3, 10 + i % 4)
            pixels = np.full((*size, 3), 60 * k, np.uint8) + rng.integers(0, 30, (*size, 3),
                                                                          dtype=np.uint8)
            ext = ("png", "jpg", "bmp")[i % 3]
            Image.fromarray(pixels).save(root / name / f"img{i}.{ext}")
    return root


def test_folder_loads_and_splits(tmp_path):
    root = make_tree(tmp_path / "pets")
    (root / "dog" / "notes.txt").write_text("not an image")
    splits = load_data(f"folder:{root}", input_shape=(8, 8, 3), classes=3, batch_size=4)
    assert splits.class_names == ["cat", "dog", "emu"]
    assert (splits.num_train, splits.num_validation, splits.num_test) == (21, 3, 6)
    assert list(splits.class_counts) == [7, 7, 7]
    assert splits.source == f"folder:{root}"
    _, y_test = all_batches(splits.test)
    assert sorted(y_test) == [0, 0, 1, 1, 2, 2]
    x, _ = first_batch(splits.train)
    assert x.shape == (4, 8, 8, 3) and 0 <= x.min() and x.max() <= 1
    gray = load_data(f"folder:{root}", input_shape=(6, 6, 1), classes=3, pipeline="numpy")
    assert first_batch(gray.train)[0].shape == (21, 6, 6, 1)


@pytest.mark.parametrize("pipeline", ["tf", "numpy"])
def test_folder_corrupt_files_are_skipped_and_listed(tmp_path, pipeline):
    root = make_tree(tmp_path / "pets")
    bad = [root / "dog" / "broken.png", root / "cat" / "text.jpg"]
    bad[0].write_bytes(b"\x89PNG\r\n\x1a\n this is not really a png")
    bad[1].write_bytes(b"hello")
    splits = load_data(f"folder:{root}", input_shape=(8, 8, 3), classes=3, batch_size=4,
                       pipeline=pipeline, max_bad_files=0.5)
    assert splits.num_train + splits.num_validation + splits.num_test == 32
    seen = sum(len(all_batches(getattr(splits, part))[1])
               for part in ("train", "validation", "test"))
    assert seen == 30
    assert splits.bad_files() == sorted(str(p) for p in bad)
    splits.check_bad_files()  # 2 of 32 is below max_bad_files=0.5
    strict = load_data(f"folder:{root}", input_shape=(8, 8, 3), classes=3, pipeline=pipeline,
                       max_bad_files=0.01)
    for part in ("train", "validation", "test"):
        all_batches(getattr(strict, part))
    with pytest.raises(DataError, match=r"cannot be read, more than max_bad_files=0.01"):
        strict.check_bad_files()


def test_folder_check_data_leaves_out_bad_headers(tmp_path):
    root = make_tree(tmp_path / "pets")
    (root / "dog" / "text.png").write_bytes(b"not an image")
    with pytest.raises(DataError, match=r"1 of 31 files \(3.2%\) cannot be read.*text.png"):
        load_data(f"folder:{root}", input_shape=(8, 8, 3), classes=3, check_data=True)
    splits = load_data(f"folder:{root}", input_shape=(8, 8, 3), classes=3, check_data=True,
                       max_bad_files=0.1)
    assert splits.bad_files() == [str(root / "dog" / "text.png")]
    assert splits.num_train + splits.num_validation + splits.num_test == 30


@pytest.mark.parametrize("pipeline", ["tf", "numpy"])
def test_folder_decodes_to_the_blueprint_channels(tmp_path, pipeline):
    """Gray, RGB, RGBA and 16-bit gray files become 1, 3 or 4 channels; 16-bit keeps
    its top 8 bits."""
    root = tmp_path / "mixed"
    (root / "a").mkdir(parents=True)
    (root / "b").mkdir()
    wide = np.full((6, 6), 200 * 256 + 99, np.uint16)
    Image.fromarray(wide).save(root / "a" / "wide.png")
    Image.fromarray(np.full((6, 6, 4), 100, np.uint8)).save(root / "a" / "rgba.png")
    Image.fromarray(np.full((6, 6), 50, np.uint8)).save(root / "b" / "gray.gif")
    Image.fromarray(np.full((6, 6, 3), 150, np.uint8)).save(root / "b" / "rgb.bmp")
    expected = {0: {200, 100}, 1: {50, 150}}
    for shape in ((6, 6, 1), (6, 6, 3), (6, 6, 4), (6, 6)):
        splits = load_data(f"folder:{root}", input_shape=shape, classes=2, batch_size=8,
                           validation_split=0, test_split=0, pipeline=pipeline)
        x, y = all_batches(splits.train)
        assert x.shape == (4, *shape)
        for image, label in zip(x, y):
            values = np.round(image[..., :3] * 255).astype(int)
            assert values.min() == values.max() and values.min() in expected[label], shape
        if shape[-1] == 4:  # the RGBA file's own alpha, opaque for the others
            assert set(np.round(x[..., 3] * 255).astype(int).ravel()) == {100, 255}
    with pytest.raises(DataError, match="images have 1, 3 or 4 channels"):
        load_data(f"folder:{root}", input_shape=(6, 6, 2), classes=2)


def test_folder_errors(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        load_data(f"folder:{tmp_path / 'nope'}", input_shape=(8, 8, 3), classes=3)
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no images"):
        load_data(f"folder:{tmp_path / 'empty'}", input_shape=(8, 8, 3), classes=3)
    one = make_tree(tmp_path / "one", classes=("cat",))
    with pytest.raises(DataError, match="only one class"):
        load_data(f"folder:{one}", input_shape=(8, 8, 3), classes=3)
    (tmp_path / "file.png").write_bytes(b"x")
    with pytest.raises(DataError, match="not a directory"):
        load_data(f"folder:{tmp_path / 'file.png'}", input_shape=(8, 8, 3), classes=3)
    loose = tmp_path / "loose"
    loose.mkdir()
    Image.new("RGB", (4, 4)).save(loose / "a.png")
    with pytest.raises(DataError, match="no class subfolders"):
        load_data(f"folder:{loose}", input_shape=(8, 8, 3), classes=3)
    many = make_tree(tmp_path / "many", per_class=2)
    with pytest.raises(DataError, match=r"has 3 classes but the blueprint outputs 2 "
                                        r"\(pass classes=3\)"):
        load_data(f"folder:{many}", input_shape=(8, 8, 3), classes=2)


# ----------------------------------------------------------------------------- npz

def test_npz_xy_layout_with_one_hot(tmp_path):
    rng = np.random.default_rng(0)
    y = np.arange(50) % 5
    path = tmp_path / "d.npz"
    np.savez(path, x=rng.integers(0, 256, (50, 10, 10), dtype=np.uint8), y=np.eye(5)[y])
    splits = load_data(f"npz:{path}", input_shape=(10, 10, 3), classes=5, batch_size=8)
    assert (splits.num_train, splits.num_validation, splits.num_test) == (35, 5, 10)
    assert list(splits.class_counts) == [7] * 5
    x, labels = first_batch(splits.test)
    assert x.shape == (8, 10, 10, 3) and labels.dtype == np.int32
    assert 0 <= x.min() and x.max() <= 1


def test_npz_train_test_layout(tmp_path):
    rng = np.random.default_rng(0)
    path = tmp_path / "d.npz"
    np.savez(path, x_train=rng.random((40, 6, 6, 1), dtype=np.float32),
             y_train=np.arange(40) % 4, x_test=rng.random((12, 6, 6, 1), dtype=np.float32),
             y_test=np.arange(12) % 4)
    splits = load_data(f"npz:{path}", input_shape=(6, 6, 1), classes=4)
    assert (splits.num_train, splits.num_validation, splits.num_test) == (36, 4, 12)
    x, _ = splits.sample(12)
    np.testing.assert_allclose(x, np.load(path)["x_test"], rtol=1e-6)


def test_npz_errors(tmp_path):
    path = tmp_path / "bad.npz"
    np.savez(path, images=np.zeros((4, 2, 2)), labels=np.zeros(4))
    with pytest.raises(DataError, match=r"bad\.npz.*'images', 'labels'"):
        load_data(f"npz:{path}", input_shape=(2, 2, 1), classes=2)
    np.savez(path, x=np.zeros((4, 2, 2)), y=np.array([0, 1, 11, 3]))
    with pytest.raises(DataError, match=r"bad\.npz has 12 classes \(labels 0\.\.11\) but the "
                                        r"blueprint outputs 10 \(pass classes=12\)"):
        load_data(f"npz:{path}", input_shape=(2, 2, 1), classes=10)
    np.savez(path, x=np.zeros((4, 2, 2)), y=np.array([0, 1, 1]))
    with pytest.raises(DataError, match="4 examples but 'y' has 3 labels"):
        load_data(f"npz:{path}", input_shape=(2, 2, 1), classes=2)
    with pytest.raises(DataError, match="does not exist"):
        load_data(f"npz:{tmp_path / 'missing.npz'}", input_shape=(2, 2, 1), classes=2)


# ---------------------------------------------------------------------------- tfds

def test_tfds_unprepared_fails_fast(tmp_path):
    start = time.monotonic()
    with pytest.raises(DataError) as error:
        load_data("tfds:mnist", input_shape=(28, 28, 1), classes=10, data_dir=str(tmp_path))
    assert time.monotonic() - start < 10
    message = str(error.value)
    assert "not prepared" in message and str(tmp_path) in message and "download=True" in message
    assert not any(tmp_path.rglob("*.tfrecord*"))


def test_tfds_unknown_name(tmp_path):
    with pytest.raises(DataError, match="did you mean 'mnist'"):
        load_data("tfds:mnistt", input_shape=(28, 28, 1), classes=10, data_dir=str(tmp_path))


def test_tfds_mock_mnist(tmp_path):
    import tensorflow_datasets as tfds

    with tfds.testing.mock_data(num_examples=40):
        splits = load_data("tfds:mnist", input_shape=(16, 16, 3), classes=10, batch_size=8,
                           data_dir=str(tmp_path), download=True)
        assert splits.source == "tfds:mnist:train"
        assert splits.num_train + splits.num_validation + splits.num_test == 40
        assert (splits.num_validation, splits.num_test) == (4, 8)
        assert splits.class_names[:3] == ["0", "1", "2"]
        assert splits.class_counts.sum() == splits.num_train
        x, y = first_batch(splits.train)
        assert x.shape == (8, 16, 16, 3) and x.dtype == np.float32 and y.dtype == np.int32
        assert 0 <= x.min() and x.max() <= 1
        xs, ys = splits.sample(5)
        assert xs.shape == (5, 16, 16, 3) and ys.shape == (5,)
        with pytest.raises(DataError, match="blueprint outputs 3"):
            load_data("tfds:mnist", input_shape=(28, 28, 1), classes=3,
                      data_dir=str(tmp_path), download=True)


def test_tfds_prepared_dataset(tiny_tfds):
    for pipeline in ("tf", "numpy"):
        splits = load_data("tfds:builder_data_tiny", input_shape=(8, 8, 1), classes=3,
                           batch_size=5, data_dir=str(tiny_tfds), pipeline=pipeline,
                           augment=("flip", "crop"))
        assert (splits.num_train, splits.num_validation, splits.num_test) == (21, 3, 6)
        assert splits.class_names == ["a", "b", "c"]
        assert splits.class_counts.sum() == 21
        x, y = first_batch(splits.train)
        assert x.shape == (5, 8, 8, 1) and 0 <= x.min() and x.max() <= 1
        assert splits.sample(4)[0].shape == (4, 8, 8, 1)
    with pytest.raises(DataError, match="bad split 'trian'"):
        load_data("tfds:builder_data_tiny:trian", input_shape=(8, 8, 1), classes=3,
                  data_dir=str(tiny_tfds))


# ------------------------------------------------------------------ pipelines, augment

def test_numpy_pipeline_matches_tf_pipeline():
    kw = dict(input_shape=(20, 20, 3), classes=10, batch_size=64)
    tf_splits = load_data("digits", **kw)
    np_splits = load_data("digits", pipeline="numpy", **kw)
    for part in ("train", "validation", "test"):
        xt, yt = first_batch(getattr(tf_splits, part))
        xn, yn = first_batch(getattr(np_splits, part))
        assert xt.shape == xn.shape and yt.dtype == yn.dtype and xt.dtype == xn.dtype
    xt, yt = all_batches(tf_splits.test)
    xn, yn = all_batches(np_splits.test)
    np.testing.assert_array_equal(yt, yn)
    np.testing.assert_allclose(xt, xn, atol=1e-5)
    assert len(np_splits.train) == int(np.ceil(np_splits.num_train / 64))


def test_numpy_resize_matches_tensorflow():
    import tensorflow as tf

    x = np.random.default_rng(0).random((2, 7, 9, 3), dtype=np.float32)
    for size in ((16, 20), (3, 4)):
        np.testing.assert_allclose(resize_bilinear(x, *size), tf.image.resize(x, size).numpy(),
                                   atol=1e-5)
    plan = plan_adaptation("test", (7, 9, 3), (5, 5, 1), 1.0)
    np.testing.assert_allclose(plan.apply_numpy(x), plan.apply_tf(x).numpy(), atol=1e-5)


def test_augment_numpy_matches_tensorflow():
    from builder.data.augment import sample_tf

    x = np.random.default_rng(1).random((4, 9, 7, 2), dtype=np.float32)
    maps = transforms(np.array([0, 1, 0, 1], np.float32), np.array([0, 0, 2, -1], np.float32),
                      np.array([0, 0, -1, 2], np.float32), np.array([0, 0, 0, -0.3], np.float32),
                      9, 7)
    out = sample_numpy(x, maps)
    np.testing.assert_array_equal(out[0], x[0])
    np.testing.assert_array_equal(out[1], x[1][:, ::-1])
    np.testing.assert_array_equal(out[2][:8, 2:], x[2][1:, :5])  # shifted right 2, up 1
    np.testing.assert_allclose(out, sample_tf(x, maps).numpy(), atol=1e-5)
    rng = np.random.default_rng(0)
    aug = augment_numpy(x, rng, ("flip", "crop", "rotate"))
    assert aug.shape == x.shape and 0 <= aug.min() and aug.max() <= 1


def test_flip_alone_gives_the_pixels_of_the_sampled_mirror():
    import tensorflow as tf
    from builder.data.augment import augment_tf, sample_tf

    x = tf.constant(np.random.default_rng(2).random((16, 9, 7, 3), dtype=np.float32))
    seed = tf.constant([3, 4])
    seeds = tf.random.experimental.stateless_split(tf.cast(seed, tf.int64), 4)
    flip = tf.cast(tf.random.stateless_uniform([16], seeds[0]) < 0.5, tf.float32)
    assert 0 < flip.numpy().sum() < 16
    zero = np.zeros(16, np.float32)
    maps = transforms(flip.numpy(), zero, zero, zero, 9, 7)
    np.testing.assert_array_equal(augment_tf(x, seed, ("flip",)).numpy(),
                                  sample_tf(x, maps).numpy())


@pytest.mark.parametrize("pipeline", ["tf", "numpy"])
def test_augmentation_train_only_and_seeded(pipeline):
    kw = dict(input_shape=(16, 16, 1), classes=10, batch_size=32, pipeline=pipeline,
              augment=("flip", "crop", "rotate"))
    a, b = load_data("digits", **kw), load_data("digits", **kw)
    plain = load_data("digits", **{**kw, "augment": ()})
    xa, ya = first_batch(a.train)
    xb, _ = first_batch(b.train)
    xp, yp = first_batch(plain.train)
    np.testing.assert_array_equal(ya, yp)          # same order as without augmentation
    np.testing.assert_array_equal(xa, xb)          # seeded
    assert not np.allclose(xa, xp)                 # augmented
    assert xa.shape == xp.shape and 0 <= xa.min() and xa.max() <= 1
    np.testing.assert_array_equal(first_batch(a.test)[0], first_batch(plain.test)[0])


@pytest.mark.parametrize("pipeline", ["tf", "numpy"])
def test_fits_a_keras_model(pipeline):
    import keras

    keras.utils.set_random_seed(0)
    splits = load_data("digits", input_shape=(8, 8, 1), classes=10, pipeline=pipeline,
                       augment=("crop",))
    model = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Flatten(),
                              keras.layers.Dense(10, activation="softmax")])
    model.compile(keras.optimizers.Adam(0.01), "sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    history = model.fit(splits.train, validation_data=splits.validation, epochs=3, verbose=0,
                        shuffle=False, class_weight=splits.class_weights())
    assert len(history.history["val_accuracy"]) == 3
    loss, accuracy = model.evaluate(splits.test, verbose=0)
    assert accuracy > 0.6, accuracy


def test_numpy_pipeline_never_imports_tensorflow(tmp_path):
    """With a stand-in keras (as on the JAX/PyTorch backends) and TensorFlow made
    unimportable, the in-memory sources load and iterate."""
    make_tree(tmp_path / "pets", per_class=4)
    np.savez(tmp_path / "d.npz", x=np.zeros((20, 4, 4), np.uint8), y=np.arange(20) % 2)
    script = textwrap.dedent(f"""
        import sys, types
        class Block:
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in ("tensorflow", "tensorflow_datasets"):
                    raise ImportError("tensorflow is blocked in this test")
        sys.meta_path.insert(0, Block())
        keras = types.ModuleType("keras")
        keras.utils = types.ModuleType("keras.utils")
        class PyDataset:
            def __init__(self, workers=1, use_multiprocessing=False, max_queue_size=10):
                pass
        keras.utils.PyDataset = PyDataset
        sys.modules["keras"] = keras
        sys.modules["keras.utils"] = keras.utils
        from builder.data import load_data
        for source in ("digits", "synthetic", "folder:{tmp_path / 'pets'}",
                       "npz:{tmp_path / 'd.npz'}"):
            splits = load_data(source, input_shape=(8, 8, 3), classes=3 if source != "digits"
                               else 10, pipeline="numpy", augment=("flip", "rotate"))
            x, y = splits.train[0]
            assert x.shape[1:] == (8, 8, 3), x.shape
            splits.sample(2)
        assert "tensorflow" not in sys.modules
        print("ok")
    """)
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


def test_import_does_not_import_tensorflow():
    result = subprocess.run(
        [sys.executable, "-c", "import sys, builder.data; print('tensorflow' in sys.modules)"],
        cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.stdout.strip() == "False", result.stderr
