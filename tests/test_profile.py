"""``builder profile``: measured time per block, adding up to the whole model's step."""

import functools
import json
import os

import pytest

import builder
from builder.blocks import ConvBN
from builder.cli import main
from builder.dsl import Conv2D, Flatten, MaxPool2D, Network, Sequence
from builder.errors import ArgumentError
from builder.profiling import profile
from conftest import run_cli


def three_stages():
    """Three stages of similar cost (about 12M MACs an example each), no head: each row
    takes tens of milliseconds at batch 64 on a CPU, far above a call's own overhead."""
    def stage(name, filters, pool):
        layers = [MaxPool2D(name="pool")] if pool else []
        return Sequence(*layers, ConvBN(filters, 3, name="conv"),
                        ConvBN(filters, 3, name="conv2"), name=name)

    return Network((32, 32, 3), Sequence(stage("stage1", 32, False), stage("stage2", 64, True),
                                         stage("stage3", 128, True)))


# Timing on a shared 2-core machine: many short rounds, each row against the whole model
# of the same round, medians (see builder.profiling). It takes about a minute there.
@pytest.mark.slow
def test_blocks_add_up_to_the_whole_step():
    result = profile(three_stages(), batch_size=64, repeats=21, min_seconds=0.02)
    assert [r.path for r in result.rows] == ["stage1", "stage2", "stage3"]
    for key in ("forward", "train"):
        assert 0.85 <= result.coverage[key] <= 1.15, (key, result.coverage)
    for row in result.rows:
        assert 0 < row.forward < row.train


def test_json_fields(capsys):
    assert main(["profile", "lenet5", "--batch-size", "4", "--repeats", "1", "--json",
                 "--set", "head.dropout=0.1"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert set(doc) == {"name", "backend", "device", "precision", "batch_size", "input_shape",
                        "depth", "repeats", "method", "call_overhead_ms", "whole", "blocks",
                        "blocks_sum", "by_kind"}
    assert doc["batch_size"] == 4 and doc["precision"] == "float32" and doc["repeats"] == 1
    report = builder.analyze(builder.load("lenet5"))
    assert [b["path"] for b in doc["blocks"]] == [r.path for r in report.blocks(1)][1:]
    assert [b["macs"] for b in doc["blocks"]] == [r.macs for r in report.blocks(1)][1:]
    fields = {"path", "kind", "output_shape", "params", "macs", "forward_ms", "train_ms",
              "forward_gflops", "train_gflops", "train_share"}
    assert all(set(b) == fields for b in doc["blocks"])
    assert abs(sum(b["train_share"] for b in doc["blocks"]) - 1) < 1e-3
    assert doc["whole"]["macs"] == report.macs and doc["whole"]["params"] == report.total_params
    assert set(doc["blocks_sum"]) == {"forward_ms", "train_ms", "forward_ratio", "train_ratio"}
    assert all(b["forward_ms"] > 0 and b["train_ms"] > 0 for b in doc["blocks"])
    gflops = 2 * doc["whole"]["macs"] * 4 / (doc["whole"]["forward_ms"] / 1e3) / 1e9
    assert doc["whole"]["forward_gflops"] == pytest.approx(gflops, rel=0.01, abs=0.01)


def test_mixed_precision_feeds_each_block_its_dtype():
    import keras

    from builder.compiler import part_model

    bp = Network((8, 8, 3), Sequence(Conv2D(4, name="a"), Conv2D(4, name="b"), Flatten(name="f")),
                 classes=2)
    result = profile(bp, batch_size=2, precision="mixed_bfloat16", repeats=1, min_seconds=0)
    assert result.precision == "mixed_bfloat16" and len(result.rows) == 4
    assert keras.config.dtype_policy().name == "float32"  # restored
    graph = builder.lower(bp)
    keras.config.set_dtype_policy("mixed_bfloat16")
    try:
        model, sources, _ = part_model(graph, 2, 3, {"a": "bfloat16"})
    finally:
        keras.config.set_dtype_policy("float32")
    assert sources == ["a"] and model.inputs[0].dtype == "bfloat16"


def test_deeper_rows_and_bad_arguments():
    result = profile(builder.load("lenet5"), batch_size=2, depth=2, repeats=1, min_seconds=0)
    assert "c1/conv" in [r.path for r in result.rows]
    kinds = {g["kind"]: g for g in result.by_kind()}
    assert kinds["Conv2D"]["rows"] == 2 and kinds["Activation"]["rows"] == 7
    assert sum(g["macs"] for g in kinds.values()) == result.whole.macs
    assert abs(sum(g["train_share"] for g in kinds.values()) - 1) < 1e-3
    with pytest.raises(ArgumentError, match="precision"):
        profile(builder.load("lenet5"), precision="float64")
    assert main(["profile", "lenet5", "--set", "head.droput=0.1"]) == 2


@pytest.mark.slow
def test_profile_on_jax():
    """The JAX backend: jax.jit, one block_until_ready per timing; same JSON."""
    pytest.importorskip("jax")
    out = run_cli("profile", "lenet5", "--batch-size", "4", "--repeats", "1", "--json",
                  env={"KERAS_BACKEND": "jax"})
    assert out.returncode == 0, out.stderr[-3000:]
    doc = json.loads(out.stdout)
    assert doc["backend"] == "jax" and doc["device"].startswith("CPU")
    assert len(doc["blocks"]) == 8 and all(b["train_ms"] > 0 for b in doc["blocks"])


def test_profile_with_the_fused_batch_norm(capsys, monkeypatch):
    from builder.keras_layers import FusedBatchNorm

    calls = []
    original = FusedBatchNorm.call

    @functools.wraps(original)  # Keras reads the signature (training, mask)
    def counted(self, *args, **kwargs):
        calls.append(self.name)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(FusedBatchNorm, "call", counted)
    bp = Network((8, 8, 3), Sequence(ConvBN(4, 3, name="a"), Flatten(name="f")), classes=2)
    path = os.path.join(os.environ.get("TMPDIR", "/tmp"), f"conv_bn_{os.getpid()}.json")
    with open(path, "w") as f:
        f.write(bp.to_json())
    try:
        assert main(["profile", path, "--fused-batch-norm", "--depth", "3", "--batch-size", "2",
                     "--repeats", "1", "--json"]) == 0
    finally:
        os.remove(path)
    doc = json.loads(capsys.readouterr().out)
    assert "BatchNorm" in {g["kind"] for g in doc["by_kind"]} and calls
