"""Training, evaluation and prediction: options, run directories, resume after SIGKILL,
bad input rejected before the first epoch, transfer learning, multi-output models,
mirrored training over two logical CPUs, and the default LeNet-5 run's accuracy."""

import csv
import dataclasses
import json
import re
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from builder.cli import in_flags, main
from builder.errors import ArgumentError
from builder.training.options import TrainOptions
from conftest import cli_env, start_cli

QUICK = ["--precision", "float32", "--strategy", "none"]


def history(run) -> list[dict]:
    with open(Path(run) / "history.csv", newline="") as f:
        return list(csv.DictReader(f))


def write_png(path, pixels):
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.asarray(pixels, np.uint8)).save(path)


def digit_images(folder, classes=3, per_class=12):
    """A folder source: digits 0..classes-1 from scikit-learn as 8x8 PNGs."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    for label in range(classes):
        picked = np.flatnonzero(digits.target == label)[:per_class]
        for i in picked:
            write_png(folder / str(label) / f"{i}.png", digits.images[i] * 255 / 16)
    return folder


# ---------------------------------------------------------------------- options

@pytest.mark.parametrize("change, word", [
    ({"optimizer": "sgdd"}, "did you mean 'sgd'"),
    ({"learning_rate": -1.0}, "`learning_rate`"),
    ({"epochs": 0}, "`epochs`"),
    ({"schedule": "linear"}, "`schedule`"),
    ({"augment": ("flip", "blur")}, "`augment`"),
    ({"precision": "float16"}, "`precision`"),
    ({"strategy": "multiworker"}, "`strategy`"),
    ({"label_smoothing": 1.0}, "`label_smoothing`"),
    ({"unfreeze_after": 2}, "needs `freeze`"),
    ({"warmup_epochs": 20}, "`warmup_epochs`"),
])
def test_bad_options_name_the_python_argument(change, word):
    """The library speaks in Python names; the command line turns them into flags."""
    with pytest.raises(ArgumentError, match=re.escape(word)) as error:
        TrainOptions(**change)
    flags = in_flags(str(error.value), error.value.arguments)
    assert "`" not in flags and "--" in flags, flags


def test_options_round_trip_through_config():
    options = TrainOptions(augment=("flip", "crop"), freeze="3", unfreeze_after=2).checked()
    again = TrainOptions.from_dict(json.loads(json.dumps(options.to_dict())))
    assert again == options and again.freeze_count == 3
    with pytest.raises(dataclasses.FrozenInstanceError):
        options.epochs = 3  # a change is a copy: options.replace(epochs=3)


def test_cosine_schedule_warms_up_then_decays():
    from keras import ops

    from builder.training.compile import cosine_schedule

    schedule = cosine_schedule(0.1, steps_per_epoch=10, warmup_epochs=1, epochs=5)
    rates = [float(ops.convert_to_numpy(schedule(step))) for step in (0, 5, 10, 30, 50)]
    assert rates[0] < rates[1] < rates[2] == pytest.approx(0.1)
    assert rates[2] > rates[3] > rates[4] and rates[4] == pytest.approx(0.0, abs=1e-6)


# ------------------------------------------------------- bad input, nothing written

@pytest.fixture
def workspace(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "empty").mkdir()
    (tmp_path / "lonely" / "a").mkdir(parents=True)
    write_png(tmp_path / "lonely" / "a" / "1.png", np.zeros((8, 8)))
    digit_images(tmp_path / "corrupt", classes=2, per_class=3)
    (tmp_path / "corrupt" / "1" / "broken.png").write_bytes(b"not a png")
    np.savez(tmp_path / "labels.npz", x=np.zeros((20, 8, 8), np.uint8),
             y=np.arange(20) % 12)
    (tmp_path / "existing").mkdir()
    (tmp_path / "notarun").mkdir()
    (tmp_path / "afile").write_text("a file, not a folder")
    return tmp_path


BAD = [
    (["nonexistent_net"], "nonexistent_net"),
    (["missing.json"], "missing.json"),
    (["lenet5", "--data", "mnistt"], "mnist"),
    (["lenet5", "--data", "folder:empty"], "no images"),
    (["lenet5", "--data", "folder:lonely"], "one class"),
    (["lenet5", "--data", "folder:corrupt"], "broken.png"),
    (["lenet5", "--data", "npz:labels.npz", "--classes", "10"], "12 classes"),
    (["lenet5", "--input-shape", "32,32,5"], "channel"),
    (["lenet5", "--out", "afile/run"], "cannot write"),
    (["lenet5", "--out", "existing"], "already exists"),
    (["--resume", "--out", "notarun"], "not a run directory"),
    (["--resume", "--out", "nothing_here"], "no run"),
    (["lenet5", "--optimizer", "adamm"], "adam"),
    (["lenet5", "--learning-rate", "0"], "--learning-rate"),
    (["lenet5", "--epochs", "-3"], "--epochs"),
    (["lenet5", "--augment", "flip,blur"], "--augment"),
    (["lenet5", "--freeze", "nowhere"], "--freeze nowhere"),
    (["lenet5", "--init-from", "no_such_run"], "--init-from"),
]


def run_main(args) -> int:
    """``builder.cli.main`` in this process; argparse's own errors exit instead."""
    try:
        return main(args)
    except SystemExit as e:
        return e.code


@pytest.mark.parametrize("args, words", BAD, ids=[" ".join(a) for a, _ in BAD])
def test_bad_input_is_one_line_exit_2_and_writes_nothing(workspace, capsys, args, words):
    before = sorted(p.relative_to(workspace) for p in workspace.rglob("*"))
    extra = [] if "--resume" in args else QUICK + ([] if "--epochs" in args else ["--epochs", "1"])
    assert run_main(["train", *args, *extra]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err, err
    assert words.lower() in err.lower(), err
    after = sorted(p.relative_to(workspace) for p in workspace.rglob("*"))
    assert after == before


def test_unwritable_out_is_refused(tmp_path, capsys):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        if os.access(locked, os.W_OK):
            pytest.skip("running as a user who can write anywhere")
        assert main(["train", "lenet5", *QUICK, "--out", str(locked / "run")]) == 2
        assert "cannot write" in capsys.readouterr().err
    finally:
        locked.chmod(0o700)


# ------------------------------------------------------------------ a short run

@pytest.fixture(scope="module")
def short_run(tmp_path_factory):
    from builder.training import train

    out = tmp_path_factory.mktemp("runs") / "short"
    metrics = train("lenet5_full", TrainOptions(epochs=2, precision="float32",
                                                strategy="none", seed=3),
                    out=out, say=lambda *a: None, verbose=0)
    return out, metrics


@pytest.mark.slow
def test_run_directory_holds_everything(short_run):
    run, metrics = short_run
    names = {p.name for p in run.iterdir()}
    assert {"blueprint.json", "config.json", "history.csv", "metrics.json", "curves.png",
            "model.keras", "checkpoints", "logs", "summary.txt"} <= names
    assert not (run.parent / f".{run.name}.partial").exists()
    config = json.loads((run / "config.json").read_text())
    assert config["options"]["epochs"] == 2 and config["precision"]["policy"] == "float32"
    assert {"python", "keras", "tensorflow"} <= set(config["versions"])
    assert config["data"]["num_train"] + config["data"]["num_validation"] \
        + config["data"]["num_test"] == 1797
    saved = json.loads((run / "metrics.json").read_text())
    assert saved["epochs_completed"] == 2 and 0 <= saved["test_accuracy"] <= 1
    assert saved["images_per_second"] > 0 and saved["train_seconds"] > 0
    assert [row["epoch"] for row in history(run)] == ["1", "2"]
    assert "c5" in (run / "summary.txt").read_text()


@pytest.mark.slow
def test_same_seed_same_metrics(short_run, tmp_path):
    from builder.training import train

    _, first = short_run
    again = train("lenet5_full", TrainOptions(epochs=2, precision="float32", strategy="none",
                                              seed=3),
                  out=tmp_path / "again", say=lambda *a: None, verbose=0)
    assert again["test_loss"] == first["test_loss"]
    assert again["final_loss"] == first["final_loss"]


def test_evaluate_and_predict(short_run, tmp_path, capsys):
    from sklearn.datasets import load_digits

    run, metrics = short_run
    assert main(["evaluate", str(run), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["accuracy"] == pytest.approx(metrics["test_accuracy"], abs=1e-6)
    assert len(result["per_class"]) == 10
    digits = load_digits()
    files = []
    for i in range(3):
        path = tmp_path / f"digit{i}.png"
        write_png(path, digits.images[i] * 255 / 16)
        files.append(str(path))
    assert main(["predict", str(run), *files, "--json"]) == 0
    predictions = json.loads(capsys.readouterr().out)
    assert [len(p["top"]) for p in predictions] == [5, 5, 5]
    assert all(p["top"][0]["probability"] >= p["top"][1]["probability"] for p in predictions)
    (tmp_path / "bad.png").write_bytes(b"garbage")
    assert main(["predict", str(run), str(tmp_path / "bad.png")]) == 2
    assert "bad.png" in capsys.readouterr().err


@pytest.mark.slow
def test_init_from_and_freeze_keep_the_frozen_weights(short_run, tmp_path):
    import keras

    from builder.training import train

    run, _ = short_run
    out = tmp_path / "tuned"
    train("lenet5_full", TrainOptions(epochs=1, precision="float32", strategy="none",
                                      init_from=str(run), freeze="c1"),
          out=out, say=lambda *a: None, verbose=0)
    source = keras.saving.load_model(run / "model.keras", compile=False)
    tuned = keras.saving.load_model(out / "model.keras", compile=False)
    config = json.loads((out / "config.json").read_text())
    assert config["frozen_layers"] == ["c1.conv", "c1.act"]
    np.testing.assert_array_equal(source.get_layer("c1.conv").get_weights()[0],
                                  tuned.get_layer("c1.conv").get_weights()[0])
    assert not np.array_equal(source.get_layer("c5.conv").get_weights()[0],
                              tuned.get_layer("c5.conv").get_weights()[0])


@pytest.mark.slow
def test_unfreeze_after_trains_a_second_phase(short_run, tmp_path, capsys):
    out = tmp_path / "phases"
    code = main(["train", "lenet5_full", *QUICK, "--epochs", "2", "--freeze", "2",
                 "--unfreeze-after", "1", "--init-from", str(short_run[0] / "model.keras"),
                 "--out", str(out)])
    assert code == 0
    assert "all layers trainable" in capsys.readouterr().out
    assert [row["epoch"] for row in history(out)] == ["1", "2"]


def test_head_follows_the_data_classes(tmp_path, capsys):
    folder = digit_images(tmp_path / "three")
    out = tmp_path / "run"
    assert main(["train", "lenet5_full", *QUICK, "--epochs", "1", "--data",
                 f"folder:{folder}", "--out", str(out)]) == 0
    assert "3 classes" in capsys.readouterr().out
    config = json.loads((out / "config.json").read_text())
    assert config["classes"] == 3 and config["class_names"] == ["0", "1", "2"]
    assert main(["train", "lenet5_full", *QUICK, "--epochs", "1", "--classes", "2",
                 "--data", f"folder:{folder}", "--out", str(tmp_path / "two")]) == 2
    assert "3 classes" in capsys.readouterr().err
    assert not (tmp_path / "two").exists()


@pytest.mark.slow
def test_multi_output_blueprint_trains_with_weighted_losses(tmp_path):
    from builder import (ClassifierHead, Conv2D, Network, Sequence, SideOutput)
    from builder.training import train

    body = Sequence((Conv2D(4, 3, name="conv1"),
                     SideOutput(ClassifierHead(5, pool="avg"), loss_weight=0.3, name="aux"),
                     Conv2D(8, 3, strides=2, name="conv2")))
    bp = Network((12, 12, 3), body, ClassifierHead(5), name="twoheads")
    metrics = train(bp, TrainOptions(data="synthetic", epochs=1, precision="float32",
                                     strategy="none", batch_size=16),
                    out=tmp_path / "run", say=lambda *a: None, verbose=0)
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["loss_weights"] == [1.0, 0.3]
    assert 0 <= metrics["test_accuracy"] <= 1 and "final_val_accuracy" in metrics


def test_nan_loss_stops_with_exit_2(tmp_path, capsys):
    from builder import ClassifierHead, Conv2D, Network, Sequence

    # Logits out (no softmax clipping) and an absurd learning rate: the loss turns NaN.
    bp = Network((12, 12, 3), Sequence((Conv2D(8, 3, activation="relu", name="conv1"),)),
                 ClassifierHead(5, activation=None), name="exploding")
    spec = tmp_path / "exploding.json"
    spec.write_text(bp.to_json())
    out = tmp_path / "nan"
    code = main(["train", str(spec), *QUICK, "--data", "synthetic", "--epochs", "2",
                 "--optimizer", "sgd", "--learning-rate", "1e30", "--schedule", "constant",
                 "--out", str(out)])
    assert code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: the loss became nan") and "learning-rate" in err
    assert not out.exists() and not (tmp_path / ".nan.partial").exists()


# ------------------------------------------------------------------ subprocesses

@pytest.mark.slow
def test_resume_after_sigkill_has_every_epoch_once(tmp_path, cli):
    out = tmp_path / "run"
    partial = tmp_path / ".run.partial"
    proc = start_cli("train", "lenet5_full", *QUICK, "--epochs", "6", "--out", out)
    state = partial / "checkpoints" / "state.json"
    deadline = time.time() + 240
    while not state.exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert state.exists() and not out.exists(), "the run ended before it could be killed"
    done = json.loads(state.read_text())["epochs_completed"]
    assert 1 <= done < 6

    result = cli("train", "--resume", "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert f"after epoch {done}" in result.stdout
    assert [row["epoch"] for row in history(out)] == [str(e) for e in range(1, 7)]
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["epochs_completed"] == 6 and not partial.exists()
    config = json.loads((out / "config.json").read_text())
    assert config["resumed"][0]["after_epoch"] == done

    again = cli("train", "--resume", "--out", str(out))
    assert again.returncode == 2 and "larger --epochs" in again.stderr


@pytest.mark.slow
def test_mirrored_over_two_logical_cpus(tmp_path):
    script = textwrap.dedent(f"""
        import json, tensorflow as tf
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
        from builder.training import TrainOptions, train
        m = train("lenet5_full", TrainOptions(epochs=1, precision="float32",
                  strategy="mirrored", batch_size=32), out={str(tmp_path / 'run')!r},
                  verbose=0)
        print(json.dumps(m))
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            env=cli_env(), timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["distribution"]["strategy"] == "mirrored"
    assert len(config["distribution"]["devices"]) == 2
    assert "mirrored over 2 devices" in result.stdout


@pytest.mark.slow
def test_default_lenet5_reaches_97_percent(tmp_path, cli):
    start = time.time()
    result = cli("train", "lenet5", "--out", str(tmp_path / "run"), timeout=600)
    seconds = time.time() - start
    assert result.returncode == 0, result.stderr
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    print(f"lenet5 on digits: test accuracy {metrics['test_accuracy']:.4f} in {seconds:.1f} s "
          f"(training {metrics['train_seconds']:.1f} s)")
    assert metrics["test_accuracy"] >= 0.97


def test_mixed_float16_scales_the_loss_and_keeps_float32_outputs():
    import keras

    import builder
    from builder.graph import lower
    from builder.training.compile import compile_model
    from builder.training.precision import set_policy

    bp = builder.load("lenet5_full")
    set_policy("mixed_float16")
    try:
        model = builder.build(bp)
        compile_model(model, TrainOptions(), lower(bp), 1e-3)
    finally:
        set_policy("float32")
    assert isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer)
    assert model.layers[1].compute_dtype == "float16"
    assert model.outputs[0].dtype == "float32"


def test_auto_precision_on_a_cpu_measures_and_never_takes_float16(monkeypatch):
    from builder.training import precision

    monkeypatch.setattr(precision, "gpu_visible", lambda: False)
    calls = []

    def make_step(policy):
        calls.append(policy)
        return lambda: time.sleep(0.001 if policy == "float32" else 0.003)

    decision = precision.decide("auto", make_step, 32, say=lambda *a: None)
    assert calls == ["float32", "mixed_bfloat16"]
    assert decision["policy"] == "float32"
    assert set(decision["images_per_second"]) == {"float32", "mixed_bfloat16"}


def test_auto_precision_takes_bfloat16_where_it_is_faster_beyond_noise(monkeypatch):
    from builder.training import precision

    monkeypatch.setattr(precision, "gpu_visible", lambda: False)

    def make_step(policy):
        return lambda: time.sleep(0.004 if policy == "float32" else 0.002)

    decision = precision.decide("auto", make_step, 32, say=lambda *a: None)
    assert decision["policy"] == "mixed_bfloat16"
    assert decision["speedup_bfloat16"] > 1 + precision.NOISE_MARGIN
