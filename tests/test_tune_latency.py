"""``tune --max-latency-ms``: candidates too slow to answer one example on this machine are
rejected before training, measured once each, and recorded with the reason."""

import csv
import os

import pytest

from builder.dsl import Choice, ClassifierHead, Conv2D, Flatten, Network, Sequence
from tuning.space import FixedValues


def test_latency_is_measured_once_per_candidate(monkeypatch):
    import tuning.search
    from tuning.search import BlueprintHyperModel, Rejected

    calls = []

    def fake(bp, batch_size):
        calls.append((bp.at("conv").filters, batch_size))
        return bp.at("conv").filters / 1000  # seconds: 2 filters -> 2 ms, 8 -> 8 ms

    monkeypatch.setattr(tuning.search, "latency", fake)
    space = Network((8, 8, 1), Sequence(Conv2D(Choice((2, 8), label="width"), name="conv"),
                                        Flatten(name="flat")), ClassifierHead(3, pool="none"))
    model = BlueprintHyperModel(space, max_latency_ms=5)
    assert model.candidate(FixedValues({"width": 2})).latency_ms == 2.0
    model.candidate(FixedValues({"width": 2}))
    with pytest.raises(Rejected, match=r"8 ms inference latency \(batch 1\) > "
                                       r"--max-latency-ms 5") as rejected:
        model.candidate(FixedValues({"width": 8}))
    assert rejected.value.latency_ms == 8.0 and rejected.value.params > 0
    with pytest.raises(Rejected):
        model.candidate(FixedValues({"width": 8}))
    assert calls == [(2, 1), (8, 1)]  # cached by the candidate's canonical JSON
    # Without a latency budget nothing is measured.
    BlueprintHyperModel(space).candidate(FixedValues({"width": 8}))
    assert len(calls) == 2


@pytest.mark.slow
def test_a_latency_budget_on_digits_rejects_and_records(tmp_path):
    """No candidate answers in a microsecond: each is measured, rejected and recorded, and
    the search stops after --max-rejected of them (nothing trains)."""
    from builder.cli import main

    out = tmp_path / "out"
    code = main(["tune", "digits_search", "--max-latency-ms", "0.001", "--max-rejected", "3",
                 "--max-trials", "2", "--out", str(out)])
    assert code == 2  # no candidate meets the budget
    rows = list(csv.DictReader(open(out / "trials.csv")))
    assert len(rows) == 3 and {r["status"] for r in rows} == {"rejected"}
    for row in rows:
        assert "ms inference latency (batch 1) > --max-latency-ms 0.001" in row["reason"]
        assert float(row["latency_ms"]) > 0.001 and int(row["params"]) > 0
    # A sweep that trained nothing keeps only trials.csv, so that the corrected command
    # (another budget) on the same --out is not refused.
    assert not (out / "sweep").exists() and not (out / "sweep.json").exists()
    assert main(["tune", "digits_search", "--max-latency-ms", "0.002", "--max-rejected", "3",
                 "--max-trials", "2", "--out", str(out)]) == 2


@pytest.mark.slow  # trains the fast candidate
def test_a_sweep_keeps_the_fast_candidates(tmp_path):
    from tuning.sweep import Settings, run_sweep

    # A 1x1 conv of 2 filters, or three 3x3 convs up to 256 filters on 32x32 (755M MACs):
    # well under a millisecond against tens of milliseconds at batch 1 on a CPU.
    slow = Sequence(Conv2D(64, 3, name="a"), Conv2D(256, 3, name="b"), Conv2D(256, 3, name="c"),
                    name="big")
    fast = Sequence(Conv2D(2, 1, name="a"), name="small")
    space = Network((32, 32, 1), Sequence(Choice((slow, fast), label="body"),
                                          Flatten(name="flat")), ClassifierHead(3, pool="none"))
    settings = Settings(spec="latency", tuner="grid", max_trials=1, epochs=1, data="synthetic",
                        out=str(tmp_path / "out"), max_latency_ms=5)
    summary = run_sweep(settings, space)
    assert summary["rejected"] == 1 and summary["completed"] == 1
    rows = list(csv.DictReader(open(os.path.join(settings.out, "trials.csv"))))
    by_status = {r["status"]: r for r in rows}
    assert "inference latency" in by_status["rejected"]["reason"]
    assert float(by_status["rejected"]["latency_ms"]) > 5 >= float(
        by_status["completed"]["latency_ms"])
