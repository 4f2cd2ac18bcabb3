"""tuning/ and `python -m builder tune`: marker resolution, rejection by budget, the
tuners, results in --out, resume, a chief with two workers, retraining the best."""

import csv
import io
import json
import os
import socket
import subprocess
import time

import keras_tuner as kt
import pytest

import builder
from builder.dsl import (Boolean, Choice, ClassifierHead, Conv2D, Dense, Flatten, Float, Int,
                         Network, Sequence)
from builder.dsl.markers import concrete, has_markers
from builder.errors import ArgumentError, BlueprintError
from conftest import start_cli
from tuning.space import (FixedValues, TrainingSpace, declare, load_training, parse_hp_option,
                          resolve)

# A tiny space on synthetic 8x8 data: every trial trains in a second or two.
TINY = '''
from builder.dsl import Choice, ClassifierHead, Conv2D, Flatten, Int, Network, Sequence
from tuning.space import TrainingSpace
from builder.dsl import Float

blueprint = Network((8, 8, 1), Sequence((
    Conv2D(Choice((2, 4, 8), label="width"), Choice((1, 3), label="kernel"), name="conv"),
    Flatten(name="flatten"),
)), ClassifierHead(3, pool="none"), name="tiny")

training = TrainingSpace(learning_rate=Float(1e-3, 1e-2, sampling="log"))
'''


def tiny_space():
    return Network((8, 8, 1), Sequence((
        Conv2D(Choice((2, 4, 8), label="width"), Choice((1, 3), label="kernel"), name="conv"),
        Flatten(name="flatten"),
    )), ClassifierHead(3, pool="none"), name="tiny")


def tiny_file(tmp_path):
    path = tmp_path / "tiny.py"
    path.write_text(TINY)
    return str(path)


def settings(tmp_path, **changes):
    from tuning.sweep import Settings

    base = dict(spec="tiny", tuner="random", max_trials=2, epochs=1, data="synthetic",
                out=str(tmp_path / "out"))
    base.update(changes)
    return Settings(**base)


def run(tmp_path, space=None, training=None, **changes):
    from tuning.sweep import run_sweep

    return run_sweep(settings(tmp_path, **changes), space or tiny_space(), training)


# --- marker resolution --------------------------------------------------------------------------


def conditional_space():
    """A block type chosen between two options, each with markers of its own; SE-like
    width only in one of them."""
    plain = Sequence((Conv2D(Choice((4, 8)), 3, name="conv"),), name="plain")
    wide = Sequence((Conv2D(Int(8, 16, step=8), Choice((1, 3)), name="conv"),
                     Dense(Choice((2, 3), label="gate"), name="gate")), name="wide")
    body = Sequence((Choice((plain, wide), label="block"), Flatten(name="flatten")))
    return Network((6, 6, 1), body, ClassifierHead(2, pool="none"), name="cond")


def test_declare_names_and_conditions():
    hp = kt.HyperParameters()
    declare(hp, conditional_space(), TrainingSpace(learning_rate=Float(1e-4, 1e-2, sampling="log")))
    by_name = {h.name: h for h in hp.space}
    assert set(by_name) == {"block", "block[plain]/conv.filters", "block[wide]/conv.filters",
                            "block[wide]/conv.kernel_size", "gate", "training.learning_rate"}
    assert by_name["block"].values == ["plain", "wide"]
    assert [c.values for c in by_name["gate"].conditions] == [["wide"]]
    assert by_name["training.learning_rate"].sampling == "log"
    assert by_name["block[wide]/conv.kernel_size"].values == ["1x1", "3x3"]


def test_resolve_follows_the_chosen_option():
    space = conditional_space()
    hp = kt.HyperParameters()
    declare(hp, space)
    bp = resolve(FixedValues({"block": "wide", "block[wide]/conv.filters": 16, "gate": 3,
                              "block[wide]/conv.kernel_size": "1x1"}), space)
    wide = bp.body.layers[0]
    assert wide.name == "wide" and wide.layers[0].filters == 16
    assert wide.layers[0].kernel_size == (1, 1) and wide.layers[1].units == 3
    assert not has_markers(bp)
    # No values: the markers' defaults, the same model as concrete().
    assert resolve(kt.HyperParameters(), space) == concrete(space)


def test_markers_sharing_a_label_share_a_value():
    shared = Choice((4, 8), label="width")
    space = Network((6, 6, 1), Sequence((Conv2D(shared, 3, name="a"), Conv2D(shared, 3, name="b"),
                                         Flatten(name="flatten"))), ClassifierHead(2, pool="none"))
    bp = resolve(FixedValues({"width": 8}), space)
    assert [layer.filters for layer in bp.body.layers[:2]] == [8, 8]
    clash = Network((6, 6, 1), Sequence((Conv2D(Choice((4, 8), label="w"), 3, name="a"),
                                         Conv2D(Choice((4, 16), label="w"), 3, name="b"))))
    with pytest.raises(BlueprintError, match="two different markers are named 'w'"):
        declare(kt.HyperParameters(), clash)


def test_marker_on_a_field_that_cannot_take_it():
    with pytest.raises(BlueprintError, match="Conv2D.filters"):
        Conv2D(Choice((8, "wide")), 3)
    with pytest.raises(BlueprintError, match="Conv2D.filters"):
        Conv2D(Int(0, 4), 3)
    with pytest.raises(BlueprintError, match="TrainingSpace.optimizer"):
        TrainingSpace(optimizer=Choice(("adam", "adamm")))
    with pytest.raises(BlueprintError):
        Choice(())
    with pytest.raises(BlueprintError):
        Float(1.0, 0.5)
    with pytest.raises(BlueprintError):
        Conv2D(Boolean(), 3)


def test_hp_option():
    assert parse_hp_option("learning_rate=1e-4..1e-2:log")[1] == Float(
        1e-4, 1e-2, sampling="log", label="training.learning_rate")
    assert parse_hp_option("batch-size=16,32")[1] == Choice((16, 32), label="training.batch_size")
    assert parse_hp_option("epochs=1..3")[1] == Int(1, 3, label="training.epochs")
    assert parse_hp_option("optimizer=sgd") == ("optimizer", "sgd")
    for bad, message in (("learnin_rate=1", "did you mean 'learning_rate'"),
                         ("optimizer=adamm", "optimizer"), ("batch_size", "NAME=VALUE"),
                         ("batch_size=0..4", "batch_size")):
        with pytest.raises(ArgumentError, match=message):
            parse_hp_option(bad)


def test_training_space_from_the_file_and_the_command_line(tmp_path):
    path = tiny_file(tmp_path)
    training = load_training(path)
    assert training.learning_rate == Float(1e-3, 1e-2, sampling="log")
    training = load_training(path, dict([parse_hp_option("batch_size=8,16")]))
    assert training.batch_size == Choice((8, 16), label="training.batch_size")
    assert load_training("digits_search") == TrainingSpace()


# --- rejection and budgets ---------------------------------------------------------------------


@pytest.mark.slow
def test_ten_rejections_in_a_row_do_not_stop_the_search(tmp_path):
    # The grid tries the options in order: ten over the budget, then two that fit.
    widths = tuple(range(64, 54, -1)) + (1, 2)
    space = Network((8, 8, 1), Sequence((Conv2D(Choice(widths, label="width"), 3, name="conv"),
                                         Flatten(name="flatten"))), ClassifierHead(3, pool="none"))
    summary = run(tmp_path, space, tuner="grid", max_trials=2, max_params=2_000)
    assert summary["rejected"] == 10 and summary["completed"] == 2 and summary["failed"] == 0
    rows = list(csv.DictReader(open(tmp_path / "out" / "trials.csv")))
    assert [r["status"] for r in rows] == ["rejected"] * 10 + ["completed"] * 2
    assert "params > --max-params 2,000" in rows[0]["reason"]
    assert rows[0]["params"] and rows[0]["macs"]  # analysis figures of the rejected one


def test_an_impossible_budget_is_said_after_n_rejections(tmp_path):
    from tuning.search import BudgetError

    start = time.time()
    with pytest.raises(BudgetError, match="no candidate meets the budget: 5 candidates"):
        run(tmp_path, max_params=10, max_rejected=5, max_trials=50)
    assert time.time() - start < 60
    rows = list(csv.DictReader(open(tmp_path / "out" / "trials.csv")))
    assert len(rows) == 5 and {r["status"] for r in rows} == {"rejected"}


def test_invalid_candidates_are_rejected_with_the_path():
    from tuning.search import BlueprintHyperModel, Rejected

    # A 5x5 valid kernel on a 4x4 input is an impossible shape.
    space = Network((4, 4, 1), Sequence((Conv2D(4, Choice((3, 5), label="k"), padding="valid",
                                                name="conv"), Flatten(name="flatten"))),
                    ClassifierHead(2, pool="none"))
    model = BlueprintHyperModel(space)
    with pytest.raises(Rejected, match="invalid: conv"):
        model.candidate(FixedValues({"k": "5x5"}))
    assert model.candidate(FixedValues({"k": "3x3"})).report.total_params > 0


# --- sweeps ----------------------------------------------------------------------------------


@pytest.mark.slow
def test_digits_sweep_writes_results_and_retrains_the_best(tmp_path, cli):
    out = tmp_path / "digits"
    result = cli("tune", "digits_search", "--tuner", "random", "--max-trials", "2",
                 "--epochs", "3", "--max-macs", "3M", "--out", str(out), "--retrain-best",
                 "--hp", "learning_rate=1e-3..1e-2:log")
    assert result.returncode == 0, result.stderr[-2000:]
    assert "best: trial" in result.stdout and "retrained trial" in result.stdout
    for name in ("trials.csv", "frontier.png", "best.json", "best.py", "retrain.json"):
        assert (out / name).exists(), name
    rows = list(csv.DictReader(open(out / "trials.csv")))
    done = [r for r in rows if r["status"] == "completed"]
    assert len(done) == 2 and all(int(r["macs"]) <= 3_000_000 for r in done)
    best = builder.load(str(out / "best.json"))
    assert not has_markers(best)
    assert builder.load(str(out / "best.py")) == best
    assert load_training(str(out / "best.py")).learning_rate > 0
    retrained = json.load(open(out / "retrain.json"))
    assert 0.0 <= retrained["test_accuracy"] <= 1.0
    summary = json.load(open(out / "summary.json"))
    assert summary["best_macs"] == builder.analyze(best).macs
    # three epochs learn: batch norm settles within short trials (at Keras's default
    # momentum every trial scored exactly chance, 0.1); one epoch, its learning rate decayed
    # to zero within it by the cosine schedule, was measured at 0.11-0.18
    assert max(float(r["val_accuracy"]) for r in done) > 0.5
    # the best blueprint trains as it is
    run = cli("train", str(out / "best.py"), "--epochs", "1", "--out", str(tmp_path / "run"))
    assert run.returncode == 0, run.stderr[-2000:]
    assert json.load(open(tmp_path / "run" / "metrics.json"))["epochs_completed"] == 1


@pytest.mark.parametrize("tuner", ["bayesian", "hyperband"])
@pytest.mark.slow
def test_other_tuners_with_a_budget(tmp_path, tuner):
    # Width 8 (1,555 or 1,619 params) is over the budget; widths 2 and 4 are not.
    summary = run(tmp_path, tuner=tuner, max_trials=3, epochs=2, max_params=1_000)
    assert summary["completed"] >= 1 and summary["failed"] == 0
    assert summary["best_params"] <= 1_000


@pytest.mark.slow
def test_sweep_on_a_folder_dataset(tmp_path):
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    for c, name in enumerate(("circle", "cross", "empty")):
        (tmp_path / "images" / name).mkdir(parents=True)
        for i in range(12):
            pixels = (rng.random((10, 10)) * 60 + c * 90).astype("uint8")
            Image.fromarray(pixels).save(tmp_path / "images" / name / f"{i}.png")
    summary = run(tmp_path, data=f"folder:{tmp_path / 'images'}", max_trials=2)
    assert summary["completed"] == 2


@pytest.mark.slow
def test_an_interrupted_sweep_resumes_without_repeating_trials(tmp_path, monkeypatch):
    from tuning.search import BlueprintHyperModel

    fitted = []
    real_fit = BlueprintHyperModel.fit

    def fit(self, hp, model, *args, **kwargs):
        fitted.append(dict(hp.values))
        if len(fitted) == 2:
            raise KeyboardInterrupt  # the second trial is interrupted
        return real_fit(self, hp, model, *args, **kwargs)

    monkeypatch.setattr(BlueprintHyperModel, "fit", fit)
    with pytest.raises(KeyboardInterrupt):
        run(tmp_path, max_trials=3)
    first = tmp_path / "out" / "sweep" / "trial_0" / "builder.json"
    stamp = first.stat().st_mtime
    summary = run(tmp_path, max_trials=3)  # the same command again
    assert summary["completed"] == 3 and summary["trials"] == 3
    # The finished trial was not run again; the interrupted one was, with its values.
    assert len(fitted) == 4 and fitted[2] == fitted[1]  # retried first
    assert first.stat().st_mtime == stamp


@pytest.mark.slow
def test_resuming_with_other_options_is_refused(tmp_path):
    run(tmp_path, max_trials=1)
    with pytest.raises(ArgumentError, match="holds a sweep with tuner 'random'"):
        run(tmp_path, max_trials=1, tuner="bayesian")


# --- bad input ---------------------------------------------------------------------------------


@pytest.mark.parametrize("args, message", [
    (["--max-trials", "0"], "--max-trials must be at least 1"),
    (["--tuner", "anneal"], "invalid choice: 'anneal'"),
    (["--objective", "val_acc"], "--objective val_acc is not a metric the model reports"),
    (["--hp", "optimizer=adamm"], "optimizer"),
    (["--worker", "localhost"], "write HOST:PORT"),
])
@pytest.mark.slow
def test_bad_arguments_exit_2_with_one_line(tmp_path, args, message, cli):
    result = cli("tune", tiny_file(tmp_path), "--out", str(tmp_path / "out"), *args)
    assert result.returncode == 2, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and message in lines[0], result.stderr


@pytest.mark.slow
def test_impossible_budget_on_the_command_line(tmp_path, cli):
    result = cli("tune", tiny_file(tmp_path), "--data", "synthetic", "--max-params", "10",
                 "--max-rejected", "4", "--out", str(tmp_path / "out"))
    assert result.returncode == 2
    assert "error: no candidate meets the budget: 4 candidates in a row were rejected" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    # Nothing was trained: only the report of the rejections is kept, and the corrected
    # command on the same --out is not refused.
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["trials.csv"]
    result = cli("tune", tiny_file(tmp_path), "--data", "synthetic", "--max-params", "1000",
                 "--max-rejected", "4", "--max-trials", "1", "--epochs", "1",
                 "--out", str(tmp_path / "out"))
    assert result.returncode == 0, result.stderr[-2000:]


@pytest.mark.slow
def test_a_sweep_that_cannot_start_writes_nothing(tmp_path):
    from builder.errors import DataError

    with pytest.raises(DataError, match="does not exist"):
        run(tmp_path, data=f"folder:{tmp_path / 'missing'}")
    assert list(tmp_path.iterdir()) == []
    assert run(tmp_path, max_trials=1)["completed"] == 1  # the corrected command


def test_tune_runs_a_blueprint_file_once(tmp_path, capsys):
    from builder.cli import main

    counter = tmp_path / "runs.txt"
    spec = tmp_path / "counted.py"
    spec.write_text(TINY + f"\nwith open({str(counter)!r}, 'a') as f:\n    f.write('ran ')\n")
    code = main(["tune", str(spec), "--data", f"folder:{tmp_path / 'missing'}",
                 "--out", str(tmp_path / "out")])
    assert code == 2 and "does not exist" in capsys.readouterr().err
    assert counter.read_text() == "ran "  # builder.load ran it; the training space reuses it


# --- distributed -------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_sweep(tmp_path, epochs: int, *chief_args) -> tuple[str, list]:
    """A chief and two workers (worker0, worker1) of a 4-trial sweep; (out, processes)."""
    spec, out = tiny_file(tmp_path), str(tmp_path / "out")
    address = f"127.0.0.1:{free_port()}"
    common = ["tune", spec, "--data", "synthetic", "--max-trials", "4", "--epochs",
              str(epochs), "--out", out]
    pipes = dict(stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    procs = [start_cli(*common, "--chief", address, *chief_args, **pipes)]
    procs += [start_cli(*common, "--worker", address, env={"KERASTUNER_TUNER_ID": f"worker{i}"},
                        **pipes) for i in range(2)]
    return out, procs


@pytest.mark.slow
def test_a_chief_and_two_workers_share_the_trials(tmp_path):
    out, procs = start_sweep(tmp_path, 1)
    try:
        outputs = [p.communicate(timeout=240) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    assert [p.returncode for p in procs] == [0, 0, 0], [o[1][-1500:] for o in outputs]
    records = [json.load(open(os.path.join(out, "sweep", d, "builder.json")))
               for d in os.listdir(os.path.join(out, "sweep")) if d.startswith("trial_")]
    ids = sorted(r["trial_id"] for r in records)
    assert ids == ["0", "1", "2", "3"]  # four trials, none run twice
    assert {r["tuner_id"] for r in records} <= {"worker0", "worker1"}
    rows = list(csv.DictReader(open(os.path.join(out, "trials.csv"))))
    assert [r["status"] for r in rows] == ["completed"] * 4
    assert os.path.exists(os.path.join(out, "best.py"))


@pytest.mark.slow
def test_a_worker_lost_mid_trial_does_not_hang_the_chief(tmp_path):
    out, (chief, *workers) = start_sweep(tmp_path, 2, "--trial-timeout", "15")
    state = os.path.join(out, "sweep", "oracle.json")
    try:
        deadline = time.time() + 300
        while time.time() < deadline:  # worker1 holds a trial: kill it there
            try:
                ongoing = json.load(open(state)).get("ongoing_trials", {})
            except (OSError, ValueError):
                ongoing = {}
            if "worker1" in ongoing:
                break
            time.sleep(0.2)
        assert "worker1" in ongoing
        workers[1].kill()
        lost = ongoing["worker1"]
        outputs = [p.communicate(timeout=400) for p in (chief, workers[0])]
    finally:
        for p in (chief, *workers):
            if p.poll() is None:
                p.kill()
                p.wait()
    assert [chief.returncode, workers[0].returncode] == [0, 0], [o[1][-1500:] for o in outputs]
    rows = list(csv.DictReader(open(os.path.join(out, "trials.csv"))))
    assert sorted(r["trial"] for r in rows) == ["0", "1", "2", "3"]
    assert all(r["status"] in ("completed", "failed") for r in rows), rows
    lost_row = next(r for r in rows if r["trial"] == lost)
    if lost_row["status"] == "completed":                  # given to the other worker
        record = os.path.join(out, "sweep", f"trial_{lost}", "builder.json")
        assert json.load(open(record))["tuner_id"] == "worker0"
    else:                                                  # nobody left to run it
        assert "worker1 stopped reporting" in lost_row["reason"], lost_row


def test_digits_search_se_ratio_exists_only_with_squeeze_excite():
    space = builder.load("digits_search")
    hp = kt.HyperParameters()
    declare(hp, space)
    ratio = {h.name: h for h in hp.space}["stage2.block[mbconv_se].se_ratio"]
    assert [c.values for c in ratio.conditions] == [["mbconv_se"]]
    assert {h.name: h for h in hp.space}["stage2.block"].values == [
        "plain", "residual", "mbconv", "mbconv_se"]
    bp = resolve(FixedValues({"stage2.block": "mbconv_se",
                              "stage2.block[mbconv_se].se_ratio": 0.5}), space)
    assert bp.body.layers[4].block.se_ratio == 0.5
    assert any("se" in node.path.split("/") for node in builder.analyze(bp).nodes)
    plain_mbconv = resolve(FixedValues({"stage2.block": "mbconv"}), space)
    assert not any("se" in node.path.split("/") for node in builder.analyze(plain_mbconv).nodes)


def test_trials_table_keeps_its_figures_whole_on_an_80_column_terminal():
    from rich.console import Console

    from tuning.report import TrialRecord, print_table

    rows = [TrialRecord("4", "completed", {"stem.width": 16,
                                           "stage1.block[plain].kernel_size": "3x3",
                                           "training.learning_rate": 0.00184},
                        122_706, 3_621_184, 0.97222, 16.3),
            TrialRecord("1", "rejected", {"stage1.block[mbconv_se].expand_ratio": 6},
                        53_370, 10_863_072, None, 0.0, "over --max-macs 5M: 10.9M MACs")]
    console = Console(width=80, record=True, file=io.StringIO())
    print_table(rows, "val_accuracy", rows[0], console)
    text = console.export_text()
    for figure in ("122,706", "3.62M", "0.9722", "16.3s", "completed", "rejected",
                   "val_accuracy", "53,370", "10.86M"):
        assert figure in text, figure
    assert "trial 1 rejected: over --max-macs 5M: 10.9M MACs" in text


def _leased_oracle(tmp_path, max_trials=3):
    from tuning.search import RandomOracle

    oracle = RandomOracle(objective=kt.Objective("val_accuracy", "max"), max_trials=max_trials,
                          seed=0)
    oracle._set_project_dir(str(tmp_path), "sweep")
    hp = kt.HyperParameters()
    hp.Int("width", 1, 100)
    oracle.update_space(hp)
    oracle.lease_seconds = 30
    return oracle


def test_the_chief_gives_a_silent_workers_trial_to_another_then_fails_it(tmp_path):
    from keras_tuner.src.distribute.oracle_chief import exit_chief

    oracle = _leased_oracle(tmp_path)
    lost = oracle.create_trial("w1")
    oracle.create_trial("w2")
    later = time.monotonic() + 31
    assert oracle.take_back() == []                      # heard just now
    oracle._heard["w2"] = later                          # w2 keeps reporting
    assert oracle.take_back(now=later) == [lost.trial_id]
    assert "w1" not in oracle.tuner_ids and "w1" not in oracle.ongoing_trials
    again = oracle.create_trial("w1-restarted")          # a worker under any id takes it
    assert again.trial_id == lost.trial_id and again.status == "RUNNING"
    oracle._heard["w2"] = later + 31
    assert oracle.take_back(now=later + 31) == [lost.trial_id]
    assert oracle.trials[lost.trial_id].status == "FAILED"
    assert "stopped reporting" in oracle.trials[lost.trial_id].message
    oracle.end_trial(oracle.ongoing_trials["w2"])
    oracle.tuner_ids.discard("w2")
    assert exit_chief(oracle)                            # nobody left to wait for


def test_a_trial_nobody_can_take_over_fails(tmp_path):
    oracle = _leased_oracle(tmp_path)
    lost = oracle.create_trial("w1")
    assert oracle.take_back(now=time.monotonic() + 31) == [lost.trial_id]
    assert oracle.trials[lost.trial_id].status == "FAILED" and not oracle.tuner_ids
    oracle.fail_unfinished()                             # nothing left in the queue
    assert not oracle._retry_queue


def test_a_heartbeat_keeps_the_lease(tmp_path):
    oracle = _leased_oracle(tmp_path)
    trial = oracle.create_trial("w1")
    oracle._heard["w1"] -= 25
    oracle.get_trial(trial.trial_id)                     # the worker's heartbeat
    assert oracle.take_back(now=time.monotonic() + 10) == []
