"""Reproducers of an audit with mutated JSON, random blueprints and hostile files: each
was a hang, a memory blow-up, a crash (exit 1) or a silent NaN; each is now refused with
a ``UserError`` naming where, quickly, or handled as Keras handles it."""

import dataclasses
import json
import math
import time
import tracemalloc
import typing

import numpy as np
import pytest

import builder
from builder.blocks import ConvNeXtStage, RegNetStage, ViTEncoder
from builder import (GRU, LSTM, BatchNorm, BlueprintError, ChannelAffine, Concatenate, Conv2D,
                     Dense, Dropout, Float, Identity, LocalResponseNorm, Network, Normalization,
                     Repeat, Rescaling, Reshape, SelectChannels, Sequence, SideOutput,
                     SimpleRNN)
from builder.blocks import (DenseBlock, FusedMBConv, MBConv, Recurrent, SqueezeExcite,
                            StridedRepeat, Transition)
from builder import ops
from builder.dsl.base import MAX_DEPTH, MAX_REPEATS, TYPES, Max, Min, field_value
from builder.graph import MAX_EXPANDED, lower

NAN, INF = math.nan, math.inf


@pytest.fixture
def quick():
    """Fails the test if its body took more than a second or allocated over 50 MB."""
    tracemalloc.start()
    start = time.perf_counter()
    yield
    seconds = time.perf_counter() - start
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert seconds < 1.0 and peak < 50 * 2**20, (seconds, peak)


# --- absurd sizes are refused at once ---------------------------------------------------------


@pytest.mark.parametrize("make, field", [
    (lambda n: Repeat(Dense(2), n), "Repeat.times"),
    (lambda n: DenseBlock(n), "DenseBlock.layers"),
    (lambda n: Recurrent(layers=n), "Recurrent.layers"),
    (lambda n: StridedRepeat(Conv2D(8), n), "StridedRepeat.repeats"),
    # found by the 10,000-example campaign: a stage of 10**12 blocks ran past its minute
    (lambda n: ConvNeXtStage(8, n), "ConvNeXtStage.depth"),
    (lambda n: ViTEncoder((4, 4), n, 8, 16, 2), "ViTEncoder.layers"),
    (lambda n: RegNetStage(8, n), "RegNetStage.depth"),
])
def test_a_repeat_count_has_a_bound(make, field, quick):
    with pytest.raises(BlueprintError) as e:
        make(10**12)
    assert f"{field} must be <= {MAX_REPEATS}" in str(e.value)
    make(MAX_REPEATS)  # the bound itself is fine


def test_the_150_byte_file_that_hung_summary_is_refused_at_once(quick):
    text = ('{"type": "Network", "input_shape": [8], "body": {"type": "Repeat", '
            '"block": {"type": "Dense", "units": 2}, "times": 1000000000000}}')
    assert len(text) < 150
    with pytest.raises(BlueprintError) as e:
        builder.from_json(text, source="net.json")
    assert str(e.value).startswith("net.json: $.body: Repeat.times must be <= 10000")


@pytest.mark.parametrize("make", [
    lambda: Repeat(Repeat(Dense(2), MAX_REPEATS), MAX_REPEATS),
    lambda: Repeat(Repeat(Identity(), MAX_REPEATS), MAX_REPEATS),  # no layers at all
    lambda: StridedRepeat(StridedRepeat(Identity(), MAX_REPEATS), MAX_REPEATS),
    lambda: Repeat(DenseBlock(MAX_REPEATS, growth_rate=1), 50),
    lambda: StridedRepeat(MBConv(8), MAX_REPEATS),
], ids=["repeat2", "identity", "strided2", "dense_blocks", "mbconv_stage"])
def test_nested_repeats_are_refused_before_the_work(make):
    start = time.perf_counter()
    with pytest.raises(BlueprintError) as e:
        builder.analyze(make(), input_shape=(8, 8, 8))
    # Refused before expanding (about 0.1 s); expanding would take hours. The bound is
    # loose: a loaded shared machine once took 10 s here (a pause of the whole process).
    assert time.perf_counter() - start < 30.0
    assert f"more than {MAX_EXPANDED:,} blueprints" in str(e.value)
    assert e.value.path  # the repeat that would be too large


def test_the_bounds_leave_real_networks_a_wide_margin():
    # The largest registered networks lower to under 1,500 blueprints and nest about 10
    # deep; a 10,000-layer plain network (Xiao et al. 2018) still fits.
    deep = Network((8,), Repeat(Dense(4, activation="tanh"), MAX_REPEATS))
    assert builder.analyze(deep).total_params == 4 * 8 + 4 + (MAX_REPEATS - 1) * 20
    for name in ("densenet201", "efficientnet_b7", "inception_v3"):
        assert len(lower(builder.load(name)).nodes) * 50 < MAX_EXPANDED
        assert builder.load(name)._depth * 5 < MAX_DEPTH


# --- NaN and infinities -----------------------------------------------------------------------


def _float_fields():
    """(type, field) of every registered blueprint type whose field takes a float."""
    builder.registry.load_all()
    found = []
    for name, cls in sorted(TYPES.items()):
        hints = typing.get_type_hints(cls, include_extras=True)
        for f in dataclasses.fields(cls):
            if "float" in str(hints[f.name]):
                found.append(pytest.param(cls, f.name, id=f"{name}.{f.name}"))
    return found


@pytest.mark.parametrize("cls, field", _float_fields())
@pytest.mark.parametrize("bad", [NAN, INF, -INF, 10**400], ids=["nan", "inf", "-inf", "huge"])
def test_every_float_field_is_finite(cls, field, bad):
    with pytest.raises(BlueprintError) as e:
        field_value(cls, field, bad)
    assert f"{cls.__name__}.{field}" in str(e.value)


@pytest.mark.parametrize("make", [
    lambda: MBConv(16, se_ratio=NAN),  # was a ValueError (exit 1) in the analysis
    lambda: SqueezeExcite(ratio=NAN),
    lambda: Transition(compression=NAN),
    lambda: Dropout(NAN),  # passed the analysis, then Keras raised
    lambda: BatchNorm(momentum=NAN),  # silently NaN outputs
    lambda: LocalResponseNorm(alpha=NAN),
    lambda: Rescaling(NAN),
    lambda: Rescaling((1.0, NAN)),
    lambda: BatchNorm(epsilon=INF),  # infinities were accepted
    lambda: SideOutput(Dense(2), loss_weight=INF),
    lambda: StridedRepeat(MBConv(8), 2, drop_rate_step=INF),
    lambda: Float(0.0, INF),  # a marker's range
    lambda: Float(NAN, 1.0),
    lambda: Dropout(builder.Choice([0.1, NAN])),
], ids=["se_ratio", "ratio", "compression", "dropout", "momentum", "lrn", "rescaling",
        "rescaling_tuple", "epsilon", "loss_weight", "drop_rate_step", "float_high",
        "float_low", "choice"])
def test_nan_and_infinity_are_refused_when_made(make):
    with pytest.raises(BlueprintError, match="finite"):
        make()


def test_nan_fails_min_and_max_on_their_own():
    for constraint in (Min(0.0), Max(1.0), Min(0.0, exclusive=True), Max(1.0, exclusive=True)):
        with pytest.raises(BlueprintError):
            constraint.check(NAN, "x")


def test_local_response_norm_keeps_a_positive_base():
    with pytest.raises(BlueprintError, match="LocalResponseNorm.k must be > 0"):
        LocalResponseNorm(k=0.0)
    with pytest.raises(BlueprintError, match="LocalResponseNorm.alpha must be >= 0"):
        LocalResponseNorm(alpha=-1.0)


def test_int_fields_fit_in_64_bits():
    with pytest.raises(BlueprintError, match="Dense.units must be at most"):
        Dense(2**63)
    with pytest.raises(BlueprintError) as e:
        Dense(10**5000)  # more digits than Python prints: the message says how many
    assert "an integer of about 5001 digits" in str(e.value)


# --- nesting ------------------------------------------------------------------------------------


def _nested(levels):
    bp = Dense(2, name="out")
    for _ in range(levels - 1):
        bp = Sequence((bp,))
    return bp


def test_nesting_up_to_the_limit_works_everywhere():
    bp = Network((4,), _nested(MAX_DEPTH - 1))
    assert bp._depth == MAX_DEPTH
    assert builder.analyze(bp).output_shape == (2,)
    again = builder.from_json(bp.to_json())
    assert again == bp and hash(again) == hash(bp)
    assert builder.build(bp).count_params() == 10


def test_nesting_past_the_limit_is_refused():
    with pytest.raises(BlueprintError, match=f"nest more than {MAX_DEPTH} levels deep"):
        Network((4,), _nested(MAX_DEPTH))
    doc = {"type": "Dense", "units": 2}
    for _ in range(230):  # the audit's 230 nested Sequences
        doc = {"type": "Sequence", "layers": [doc]}
    with pytest.raises(BlueprintError) as e:
        builder.from_json(json.dumps({"type": "Network", "input_shape": [4], "body": doc}),
                          source="deep.json")
    assert e.value.path == "deep.json" and "nested too deeply" in str(e.value)


def test_deep_json_is_refused_not_a_recursion_error():
    for text in ("[" * 100_000 + "]" * 100_000, '{"a": ' * 100_000 + "1" + "}" * 100_000):
        with pytest.raises(BlueprintError, match="nested too deeply"):
            builder.from_json(text)
    with pytest.raises(BlueprintError, match="nested too deeply"):
        builder.from_dict({"type": "Sequence", "layers": json.loads("[" * 300 + "]" * 300)})


# --- unknown sizes and shapes that Keras would refuse -------------------------------------------


@pytest.mark.parametrize("layer, shape", [
    (BatchNorm(), (8, 8, None)),
    (ChannelAffine(), (8, None)),
    (Normalization(), (8, 8, None)),
    (SimpleRNN(4), (5, None)),
    (LSTM(4), (5, None)),
    (GRU(4), (5, None)),
    (SelectChannels((0,)), (8, 8, None)),
    (MBConv(8), (8, 8, None)),
    (FusedMBConv(8), (8, 8, None)),
    (SqueezeExcite(), (8, 8, None)),
    (Transition(), (8, 8, None)),
    (Rescaling((1.0, 2.0)), (8, None)),
    (Dense(3), (8, None)),
], ids=lambda v: v.kind if hasattr(v, "kind") else None)
def test_an_unknown_channel_count_is_refused_with_the_path(layer, shape):
    bp = Network(shape, Sequence((layer.replace(name="here"),)))
    with pytest.raises(BlueprintError) as e:
        builder.analyze(bp)
    assert e.value.path.startswith("here")
    assert "known number of input" in str(e.value)


def test_an_empty_shape_is_refused():
    with pytest.raises(BlueprintError, match="Reshape.target_shape is empty"):
        Reshape(())
    with pytest.raises(BlueprintError, match="input_shape is empty"):
        builder.analyze(Dense(3), input_shape=())
    with pytest.raises(BlueprintError, match="input_shape"):
        builder.analyze(Dense(3), input_shape=(4, -1))


@pytest.mark.parametrize("bp", [
    Network((None, 4), Reshape((-1, 2))),  # was (2, 2): the unknown size taken as 1
    Network((None, 6, 2), Reshape((3, -1, 2))),
], ids=["sequence", "image"])
def test_reshape_of_unknown_sizes_agrees_with_keras(bp):
    report = builder.analyze(bp)
    assert None in report.output_shape
    model = builder.build(bp)
    assert tuple(model.output.shape[1:]) == report.output_shape
    x = np.ones((1, 5) + tuple(bp.input_shape[1:]), "float32")
    assert model(x).shape[-1] == report.output_shape[-1]


def test_reshape_to_a_fixed_shape_needs_a_known_size():
    with pytest.raises(BlueprintError, match="put -1") as e:
        builder.analyze(Network((None, 4), Reshape((2, 2), name="fold")))
    assert e.value.path == "fold"


def test_per_channel_values_must_fit_the_channels():
    # passed the analysis and the build, then failed on the first call
    for layer in (Rescaling((1.0, 2.0)), Rescaling(offset=()),
                  Normalization(mean=(0.0, 0.0, 0.0), variance=(1.0, 1.0))):
        with pytest.raises(BlueprintError, match="values for 3 channels") as e:
            builder.analyze(Network((4, 4, 3), Sequence((layer.replace(name="scale"),))))
        assert e.value.path == "scale"
    bp = Network((4, 4, 3), Rescaling((1.0, 2.0, 3.0), (0.5,)))
    x = np.ones((1, 4, 4, 3), "float32")
    assert np.asarray(builder.build(bp)(x))[0, 0, 0].tolist() == [1.5, 2.5, 3.5]
    with pytest.raises(BlueprintError, match="Normalization.variance"):
        Normalization(mean=(0.0,), variance=(-1.0,))


@pytest.mark.parametrize("axis", [1, 2, 3, -1, -2, -3])
def test_concatenate_counts_the_batch_axis_as_keras_does(axis):
    import keras

    inputs = ((4, 5, 3), (4, 5, 3))
    rule = ops.rule(Concatenate(axis))
    expected = keras.layers.Concatenate(axis=axis).compute_output_shape(
        [(None,) + s for s in inputs])
    assert rule.shape(Concatenate(axis), inputs, print) == tuple(expected[1:])
    for bad in (0, 4, -4):  # the batch axis, past the last
        with pytest.raises(BlueprintError, match="is not an axis"):
            rule.shape(Concatenate(bad), inputs, print)


# --- markers in fields that validation does arithmetic on -------------------------------------


def test_a_marker_for_a_stage_length_is_checked_when_resolved():
    stage = StridedRepeat(MBConv(8), builder.Int(1, 3), drop_rate_step=0.6)
    assert builder.analyze(stage, input_shape=(8, 8, 8)).output_shape == (8, 8, 8)
    with pytest.raises(BlueprintError, match="last block's drop rate"):
        stage.replace(repeats=3)
