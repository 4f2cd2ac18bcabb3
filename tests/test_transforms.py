"""Training and evaluation transforms (builder.data.transforms): the evaluation crop pinned
against crops computed by hand, the random-resized crop's ranges and seeding, the Keras
batch augmentations and their soft labels, the choice ``auto`` makes, and predict and
export preprocessing as evaluation does."""

import json
from dataclasses import dataclass

import numpy as np
import pytest

import builder
from builder.data import load_data
from builder.data.adapt import plan_adaptation, resize_bilinear
from builder.data.protocol import Arrays, Opened, Source, Stream
from builder.data.transforms import (Transform, choose, eval_geometry, example_map,
                                     train_image)
from builder.errors import ArgumentError
from builder.training.options import TrainOptions

tf = pytest.importorskip("tensorflow")


def evaluated(image: np.ndarray, target, crop_pct=0.875) -> np.ndarray:
    """The evaluation pipeline's input for one stored uint8 image (tf.data, batched)."""
    from builder.data import tf_pipeline

    plan = plan_adaptation("test", image.shape, target, 255.0)
    part = Arrays(image[None], np.zeros(1, np.int64))
    ds = tf_pipeline.dataset(part, plan, batch_size=4, training=False, seed=0, augment=(),
                             cache=False, transform=Transform("imagenet", crop_pct=crop_pct))
    (x, y), = list(ds.as_numpy_iterator())
    return x[0]


def ramp(height, width, channels=1) -> np.ndarray:
    """uint8 image whose value at (r, c) is r * width + c (a known gradient)."""
    values = np.arange(height * width).reshape(height, width) % 256
    return np.repeat(values[..., None], channels, axis=-1).astype(np.uint8)


# --------------------------------------------------------------------- evaluation

def test_eval_geometry_by_hand():
    # 300x400 to 224: shorter side round(224 / 0.875) = 256, longer 400 * 256 / 300 = 341.33
    assert tuple(map(int, eval_geometry(300, 400, (224, 224), 0.875))) == (256, 341, 16, 58)
    # portrait, crop_pct 1: the shorter side becomes the size itself, centre crop of the rest
    assert tuple(map(int, eval_geometry(500, 200, (100, 100), 1.0))) == (250, 100, 75, 0)
    # a non-square input: the resize covers round(h / pct) x round(w / pct)
    assert tuple(map(int, eval_geometry(100, 100, (70, 140), 0.875))) == (160, 160, 45, 10)


def test_eval_crop_without_resize_is_the_centre_by_hand():
    image = ramp(8, 16)                     # round(7 / 0.875) = 8: no resize
    out = evaluated(image, (7, 7, 1))
    # top (8 - 7) // 2 = 0, left (16 - 7) // 2 = 4
    np.testing.assert_array_equal(out[..., 0] * 255, image[0:7, 4:11, 0].astype(np.float32))


def test_eval_crop_after_enlarging_matches_bilinear():
    image = ramp(4, 8, 3)                   # shorter side 4 -> 8: enlarged twice
    out = evaluated(image, (7, 7, 3))
    enlarged = resize_bilinear(image[None].astype(np.float32) / 255, 8, 16)[0]
    np.testing.assert_allclose(out, enlarged[0:7, 4:11], atol=1e-6)


def test_eval_crop_after_shrinking_keeps_a_linear_ramp():
    # Values grow by 1/255 per column; a quarter-size bilinear resize samples the ramp at
    # x = 4 (j + 0.5) - 0.5, and the crop starts at resized column (24 - 14) // 2 = 5.
    image = np.tile(np.arange(96, dtype=np.uint8), (64, 1))[..., None]
    out = evaluated(image, (14, 14, 1))[..., 0] * 255
    expected = 4 * (np.arange(14) + 5 + 0.5) - 0.5
    np.testing.assert_allclose(out, np.tile(expected, (14, 1)), atol=1e-3)


def test_eval_to_a_two_dimensional_input():
    image = ramp(16, 20)[..., 0]            # stored (h, w): no channel axis
    out = evaluated(image, (14, 14))
    assert out.shape == (14, 14)
    np.testing.assert_array_equal(out * 255, image[1:15, 3:17].astype(np.float32))


# ----------------------------------------------------------------------- training

def test_random_resized_crop_seeded_and_flipped():
    image = tf.constant(np.random.default_rng(0).random((30, 40, 3)), tf.float32)
    whole = tf.image.resize(image, (10, 10)).numpy()
    outs = [train_image(image, tf.constant([s, 1]), (10, 10, 3), (1.0, 1.0), (4 / 3, 4 / 3))
            .numpy() for s in range(12)]
    for out in outs:  # area 1, ratio of the image: the whole image, flipped or not
        assert np.allclose(out, whole, atol=1e-5) or np.allclose(out, whole[:, ::-1], atol=1e-5)
    flipped = [np.allclose(out, whole[:, ::-1], atol=1e-5) for out in outs]
    assert any(flipped) and not all(flipped)
    again = train_image(image, tf.constant([3, 1]), (10, 10, 3), (1.0, 1.0), (4 / 3, 4 / 3))
    np.testing.assert_array_equal(again.numpy(), outs[3])


def test_random_resized_crop_area_and_ratio():
    # Each pixel holds its own (row, column): the output spans the crop's extent.
    rows, cols = np.mgrid[0:200, 0:200].astype(np.float32)
    image = tf.constant(np.stack([rows, cols, rows * 0], -1))
    for seed in range(8):
        out = train_image(image, tf.constant([seed, 7]), (20, 20, 3), (0.25, 0.25),
                          (1.0, 1.0)).numpy()
        height = out[-1, 0, 0] - out[0, 0, 0]
        width = abs(out[0, -1, 1] - out[0, 0, 1])
        # a 100 x 100 crop resized to 20: 19 steps of 5 pixels
        assert 90 <= height <= 100 and 90 <= width <= 100
    spans = []
    for seed in range(20):
        out = train_image(image, tf.constant([seed, 8]), (20, 20, 3)).numpy()
        spans.append(out[-1, 0, 0] - out[0, 0, 0])
    assert min(spans) < 120 and max(spans) > 120     # the default area range varies


def varied_images() -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    return [rng.integers(0, 256, (140 + 7 * (i % 4), 150 + 11 * (i % 3), 3), np.uint8)
            for i in range(24)]


@dataclass(frozen=True)
class Varied(Source):
    """``varied_images`` streamed at their own sizes, 3 classes: 18 for training, then 6
    for test (none for validation)."""

    kind = "varied"

    def open(self, request):
        images = varied_images()

        def stream(first, last):
            return Stream(tf.data.Dataset.from_generator(
                lambda: ((images[i], i % 3) for i in range(first, last)),
                output_signature=(tf.TensorSpec((None, None, 3), tf.uint8),
                                  tf.TensorSpec((), tf.int64))), last - first)

        plan = plan_adaptation(str(self), (None, None, 3), request.input_shape, 255.0)
        parts = {"train": stream(0, 18), "validation": stream(0, 0), "test": stream(18, 24)}
        return Opened(parts, plan, 3, ["a", "b", "c"], np.array([6, 6, 6]))


def test_imagenet_training_pipeline_seeded():
    kw = dict(input_shape=(128, 128, 3), classes=3, batch_size=4, seed=5, augment=("jitter",))
    a = load_data(Varied(), **kw)
    b = load_data(Varied(), **kw)
    c = load_data(Varied(), **{**kw, "seed": 6})
    assert a.transform["train_transform"] == "imagenet"
    xa, ya = next(iter(a.train))
    xb, yb = next(iter(b.train))
    np.testing.assert_array_equal(xa, xb)
    np.testing.assert_array_equal(ya, yb)
    epoch2 = next(iter(a.train))[0]
    assert not np.array_equal(xa, epoch2)
    assert not np.array_equal(xa, next(iter(c.train))[0])
    assert xa.shape == (4, 128, 128, 3) and ya.dtype == np.int32


def test_evaluation_split_and_sample_use_the_centre_crop():
    splits = load_data(Varied(), input_shape=(128, 128, 3), classes=3, batch_size=4)
    assert splits.validation is None
    first = varied_images()[18]
    x, _ = next(iter(splits.test))
    np.testing.assert_allclose(x[0], evaluated(first, (128, 128, 3)), atol=1e-6)
    np.testing.assert_allclose(splits.sample(2)[0][0], x[0], atol=1e-6)


# ------------------------------------------------------------------ batch augmentations

def test_mixup_and_cutmix_give_soft_labels():
    for augment in (("mixup",), ("cutmix",), ("mixup", "cutmix")):
        splits = load_data("digits", input_shape=(8, 8, 1), classes=10, batch_size=16,
                           augment=augment)
        x, y = next(iter(splits.train))
        assert y.shape == (16, 10) and y.dtype == np.float32
        np.testing.assert_allclose(np.sum(y, axis=1), 1.0, atol=1e-5)
        assert np.count_nonzero(np.max(y, axis=1) < 0.999) > 0  # some labels mixed
        assert x.shape == (16, 8, 8, 1) and 0 <= np.min(x) and np.max(x) <= 1
        _, y_val = next(iter(splits.validation))
        assert y_val.shape == (16,) and y_val.dtype == np.int32  # evaluation: integers


def test_randaugment_and_jitter_change_images_seeded():
    kw = dict(input_shape=(12, 12, 3), classes=10, batch_size=32, seed=2)
    plain = next(iter(load_data("digits", **kw, augment=()).train))[0]
    for augment in (("randaugment",), ("jitter",)):
        a = next(iter(load_data("digits", **kw, augment=augment).train))[0]
        b = next(iter(load_data("digits", **kw, augment=augment).train))[0]
        np.testing.assert_array_equal(a, b)
        assert not np.allclose(a, plain)
        assert a.shape == plain.shape


def test_batch_augmentations_need_the_tf_pipeline():
    with pytest.raises(ArgumentError, match="mixup needs the tf pipeline"):
        load_data("digits", input_shape=(8, 8, 1), classes=10, pipeline="numpy",
                  augment=("mixup",))
    with pytest.raises(ArgumentError, match="unknown augmentation 'mixpu'.*mixup"):
        load_data("digits", input_shape=(8, 8, 1), classes=10, augment=("mixpu",))


def test_loss_and_accuracy_read_soft_and_integer_labels():
    from builder.training.losses import SmoothedSparseCrossentropy, label_accuracy

    logits = tf.constant([[2.0, 0.5, -1.0], [0.1, 0.2, 3.0]])
    labels = tf.constant([0, 1])
    one_hot = tf.one_hot(labels, 3)
    for smoothing in (0.0, 0.1):
        loss = SmoothedSparseCrossentropy(smoothing, from_logits=True)
        np.testing.assert_allclose(loss(one_hot, logits), loss(labels, logits), rtol=1e-6)
    soft = tf.constant([[0.7, 0.3, 0.0], [0.0, 0.4, 0.6]])
    expected = -np.mean(np.sum(soft.numpy() * tf.nn.log_softmax(logits).numpy(), axis=1))
    np.testing.assert_allclose(SmoothedSparseCrossentropy(0.0, True)(soft, logits), expected,
                               rtol=1e-5)
    np.testing.assert_array_equal(label_accuracy(labels, logits), [1.0, 0.0])
    np.testing.assert_array_equal(label_accuracy(soft, logits), [1.0, 1.0])


# -------------------------------------------------------------------------- choice

def test_auto_chooses_imagenet_for_large_native_images_only():
    assert choose("auto", (224, 224, 3), True, "tf") == "imagenet"
    assert choose("auto", (128, 160, 3), True, "tf") == "imagenet"
    assert choose("auto", (32, 32, 3), True, "tf") == "simple"      # CIFAR size
    assert choose("auto", (224, 224, 3), False, "tf") == "simple"   # stored at the input size
    assert choose("auto", (224, 224, 3), True, "numpy") == "simple"
    assert choose("imagenet", (32, 32, 3), False, "tf") == "imagenet"
    assert choose("simple", (224, 224, 3), True, "tf") == "simple"
    with pytest.raises(ArgumentError, match="needs an image input"):
        choose("imagenet", (64,), True, "tf")
    with pytest.raises(ArgumentError, match="needs the tf pipeline"):
        choose("imagenet", (224, 224, 3), True, "numpy")


def test_load_data_records_the_choice(tmp_path):
    simple = load_data("digits", input_shape=(8, 8, 1), classes=10, augment=None)
    assert simple.transform == {"train_transform": "simple", "augment": ["rotate"],
                                "evaluation": "resize to the input (aspect ratio not kept)"}
    path = tmp_path / "big.npz"
    rng = np.random.default_rng(0)
    np.savez(path, x=rng.integers(0, 256, (20, 150, 170, 3), dtype=np.uint8),
             y=np.arange(20) % 2)
    big = load_data(f"npz:{path}", input_shape=(128, 128, 3), classes=2, augment=None,
                    crop_pct=0.9, crop_scale=(0.3, 1.0))
    assert big.transform["train_transform"] == "imagenet" and big.transform["augment"] == []
    assert big.transform["crop_pct"] == 0.9 and big.transform["scale"] == [0.3, 1.0]
    assert big.transform["evaluation"] == "resize (aspect ratio kept) to cover 142x142, " \
                                          "centre crop 128x128"
    for part in (big.train, big.test):
        assert next(iter(part))[0].shape[1:] == (128, 128, 3)
    with pytest.raises(ArgumentError, match="`crop_pct`"):
        load_data("digits", input_shape=(8, 8, 1), classes=10, crop_pct=1.5)


def test_options_and_flags():
    options = TrainOptions(train_transform="imagenet", crop_pct=0.95, crop_scale=0.35,
                           augment=("randaugment", "mixup"))
    again = TrainOptions.from_dict(json.loads(json.dumps(options.to_dict())))
    assert again == options
    assert TrainOptions().augment is None and TrainOptions().train_transform == "auto"
    old = TrainOptions.from_dict({"epochs": 2, "augment": ["flip"]})  # a run from before
    assert old.train_transform == "simple" and old.augment == ("flip",)
    with pytest.raises(ArgumentError, match="`crop_pct`"):
        TrainOptions(crop_pct=0.0)
    with pytest.raises(ArgumentError, match="`train_transform`"):
        TrainOptions(train_transform="timm")


def test_cli_flags(capsys, tmp_path, monkeypatch):
    from builder.cli import main

    with pytest.raises(SystemExit):
        main(["train", "--help"])
    out = capsys.readouterr().out
    for flag in ("--train-transform", "--crop-pct", "--crop-scale", "randaugment"):
        assert flag in out
    monkeypatch.chdir(tmp_path)
    for args, word in ((["--augment", "mixup,blur"], "--augment"),
                       (["--crop-pct", "0"], "--crop-pct"),
                       (["--train-transform", "timm"], "--train-transform")):
        assert main(["train", "lenet5", "--epochs", "1", *args]) == 2
        assert word in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


# ------------------------------------------------------------- predict and export

def imagenet_run(tmp_path, crop_pct=0.8):
    """A run directory (untrained model) recorded as trained with the imagenet transforms."""
    bp = builder.load("lenet5", input_shape=(40, 40, 3), classes=3)
    run = tmp_path / "run"
    run.mkdir()
    builder.build(bp).save(run / "model.keras")
    (run / "blueprint.json").write_text(bp.to_json())
    record = Transform("imagenet", crop_pct=crop_pct).record((40, 40, 3))
    (run / "config.json").write_text(json.dumps({
        "input_shape": [40, 40, 3], "classes": 3, "class_names": ["a", "b", "c"],
        "transform": record}))
    (run / "metrics.json").write_text("{}")
    return run


def test_predict_sees_what_evaluation_sees(tmp_path):
    from PIL import Image

    from builder.training.inference import load_image, load_run, predict_files

    pixels = np.random.default_rng(1).integers(0, 256, (57, 83, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(tmp_path / "a.png")
    run = imagenet_run(tmp_path)
    config = json.loads((run / "config.json").read_text())
    loaded = load_image(tmp_path / "a.png", (40, 40, 3), config["transform"])
    np.testing.assert_allclose(loaded, evaluated(pixels, (40, 40, 3), crop_pct=0.8), atol=1e-6)
    squashed = load_image(tmp_path / "a.png", (40, 40, 3))   # runs without the record
    assert squashed.shape == (40, 40, 3) and not np.allclose(squashed, loaded)
    (name, top), = predict_files(run, [tmp_path / "a.png"], top=3)
    model, _, _ = load_run(run)
    p = np.asarray(model(loaded[None]))[0]
    assert top[0] == (["a", "b", "c"][int(np.argmax(p))], pytest.approx(float(p.max()), abs=1e-5))


def test_export_preprocesses_as_evaluation(tmp_path):
    from builder import export as ex

    run = imagenet_run(tmp_path)
    loaded = ex.load_run(str(run))
    pixels = np.random.default_rng(2).integers(0, 256, (2, 61, 50, 3), dtype=np.uint8)
    served = ex.serving_model(loaded.model, "uint8", loaded.transform)(pixels)
    inputs = np.stack([evaluated(p, (40, 40, 3), crop_pct=0.8) for p in pixels])
    np.testing.assert_allclose(served, loaded.model(inputs), atol=1e-5)
    results = ex.export(str(run), "keras", str(tmp_path / "m.keras"))
    assert results[0][1] <= 1e-4
    import keras

    again = keras.saving.load_model(tmp_path / "m.keras", compile=False)
    np.testing.assert_allclose(again(pixels), served, atol=1e-5)


@pytest.mark.slow
def test_saved_model_export_crops_any_size_as_evaluation(tmp_path):
    from builder import export as ex

    run = imagenet_run(tmp_path)
    loaded = ex.load_run(str(run))
    pixels = np.random.default_rng(3).integers(0, 256, (2, 45, 72, 3), dtype=np.uint8)
    inputs = np.stack([evaluated(p, (40, 40, 3), crop_pct=0.8) for p in pixels])
    ex.export(str(run), "saved_model", str(tmp_path / "sm"))
    signature = tf.saved_model.load(str(tmp_path / "sm")).signatures["serving_default"]
    out = list(signature(images=tf.constant(pixels)).values())[0]
    np.testing.assert_allclose(out, loaded.model(inputs), atol=1e-5)  # not the input's size


# ------------------------------------------------------------------------ training runs

@pytest.mark.slow
def test_training_with_mixed_labels_is_seeded_and_learns(tmp_path):
    from builder.training import train

    options = TrainOptions(epochs=3, precision="float32", strategy="none", seed=1,
                           augment=("mixup", "cutmix"), label_smoothing=0.1)
    first = train("lenet5_full", options, out=tmp_path / "a", say=lambda *a: None, verbose=0)
    again = train("lenet5_full", options, out=tmp_path / "b", say=lambda *a: None, verbose=0)
    assert again["final_loss"] == first["final_loss"]
    assert again["test_loss"] == first["test_loss"]
    assert first["test_accuracy"] > 0.5          # 10 classes: chance is 0.1
    config = json.loads((tmp_path / "a" / "config.json").read_text())
    assert config["transform"]["augment"] == ["mixup", "cutmix"]


@pytest.mark.slow
def test_imagenet_run_trains_evaluates_and_predicts(tmp_path, cli):
    from PIL import Image

    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (30, 150, 170, 3), dtype=np.uint8)
    np.savez(tmp_path / "big.npz", x=x, y=np.arange(30) % 3)
    Image.fromarray(x[0]).save(tmp_path / "a.png")
    run = tmp_path / "run"
    done = cli("train", "lenet5", "--input-shape", "128,128,3", "--data",
               f"npz:{tmp_path / 'big.npz'}", "--epochs", "1", "--batch-size", "8",
               "--precision", "float32", "--strategy", "none", "--crop-pct", "0.9",
               "--augment", "jitter", "--out", run)
    assert done.returncode == 0, done.stderr
    config = json.loads((run / "config.json").read_text())
    assert config["transform"]["train_transform"] == "imagenet"
    assert config["transform"]["crop_pct"] == 0.9
    assert config["options"]["train_transform"] == "auto"
    assert "auto chose imagenet" in done.stdout
    assert any("auto chose imagenet" in note for note in config["notes"])
    assert cli("evaluate", run).returncode == 0
    done = cli("predict", run, tmp_path / "a.png", "--json")
    assert done.returncode == 0, done.stderr
    from builder.training.inference import load_image, load_run

    model, _, _ = load_run(run)
    p = np.asarray(model(evaluated(x[0], (128, 128, 3), crop_pct=0.9)[None]))[0]
    np.testing.assert_allclose(load_image(tmp_path / "a.png", (128, 128, 3),
                                          config["transform"]),
                               evaluated(x[0], (128, 128, 3), crop_pct=0.9), atol=1e-6)
    top = json.loads(done.stdout)[0]["top"][0]
    assert top["probability"] == pytest.approx(float(p.max()), abs=1e-5)
