"""Scaling rules: rounding helpers, scale() over any blueprint, the EfficientNet table,
compound scaling and solving phi for a budget. Analysis only: nothing is built."""

import warnings

import pytest

import builder
from builder import BlueprintError
from builder.blocks import ConvBN
from builder.dsl import ClassifierHead, Conv2D, MaxPool2D, Network, Repeat, Sequence
from builder.scaling import (compound, make_divisible, round_filters, round_repeats, scale,
                             solve_phi, total_stride)

# keras.applications.EfficientNetB0..B7(weights=None), Keras 3.15.1:
# (input size, total params, params without top).
EFFICIENTNET = {
    "efficientnet_b0": (224, 5_330_571, 4_049_571),
    "efficientnet_b1": (240, 7_856_239, 6_575_239),
    "efficientnet_b2": (260, 9_177_569, 7_768_569),
    "efficientnet_b3": (300, 12_320_535, 10_783_535),
    "efficientnet_b4": (380, 19_466_823, 17_673_823),
    "efficientnet_b5": (456, 30_562_527, 28_513_527),
    "efficientnet_b6": (528, 43_265_143, 40_960_143),
    "efficientnet_b7": (600, 66_658_687, 64_097_687),
}


# --- rounding helpers ------------------------------------------------------------------------


@pytest.mark.parametrize("value, kwargs, expected", [
    (32, {}, 32),
    (37, {}, 40),  # nearest multiple of 8
    (35.2, {}, 32),  # 32 is within 10% of 35.2
    (11.2, {}, 16),  # 8 would lose more than 10%: one step up (MobileNetV2 alpha 0.35 stem)
    (9, {}, 16),
    (9, {"round_down_limit": 0.0}, 8),  # the 10% rule off
    (3, {}, 8),  # never below the divisor
    (3, {"min_value": 16}, 16),
    (11.2, {"divisor": 1}, 11),
    (1792, {"divisor": 16}, 1792),
])
def test_make_divisible(value, kwargs, expected):
    assert make_divisible(value, **kwargs) == expected


def test_round_filters_and_repeats():
    assert round_filters(32, 1.1) == 32  # B2's stem
    assert round_filters(1280, 1.1) == 1408  # B2's top
    assert round_filters(16, 1.4) == 24  # B4's first stage
    assert round_filters(320, 2.0) == 640
    assert round_filters(30, 1.0, divisor=4) == 32
    # EfficientNetV2-B3's first stage: keras.applications' V2 has no 10% rule.
    assert round_filters(16, 1.2) == 24
    assert round_filters(16, 1.2, round_down_limit=0.0) == 16
    assert round_repeats(2, 1.1) == 3  # always up
    assert round_repeats(1, 3.1) == 4
    assert round_repeats(4, 1.0) == 4


# --- scale() on any blueprint ---------------------------------------------------------------


def small_network():
    body = Sequence((
        ConvBN(16, 3, strides=2, name="stem"),
        Repeat(Conv2D(16, 3, name="conv"), 2, name="repeat"),
        MaxPool2D(2, name="pool"),
        Conv2D(24, 3, strides=2, name="last"),
    ))
    return Network((32, 32, 3), body, ClassifierHead(10), name="small")


def test_scale_a_hand_made_network():
    bp = small_network()
    scaled = scale(bp, width=2.0, depth=1.5, resolution=64)
    stem, repeat, pool, last = scaled.body.layers
    assert stem.filters == 32 and repeat.block.filters == 32 and last.filters == 48
    assert repeat.times == 3
    assert pool == bp.body.layers[2]
    assert scaled.input_shape == (64, 64, 3)
    assert scaled.head.classes == 10  # classes are not a width
    assert bp.body.layers[0].filters == 16  # the original is unchanged
    report = builder.analyze(scaled)
    assert report.output_shape == (10,)
    # stem 3x3x3x32 + BN 4x32; three 3x3x32x32+32 convs; 3x3x32x48+48; dense 48x10+10.
    assert report.total_params == 864 + 128 + 3 * 9248 + 13872 + 490
    assert scale(bp) == bp  # multipliers of 1 change nothing


def test_scale_passes_the_rounding_rule():
    bp = small_network()
    assert scale(bp, width=1.2).body.layers[1].block.filters == 24  # 16 * 1.2, 10% rule
    assert scale(bp, width=1.2, round_down_limit=0.0).body.layers[1].block.filters == 16


def test_scale_rectangular_resolution_and_divisor():
    scaled = scale(small_network(), width=0.5, resolution=(48, 40), divisor=4)
    assert scaled.input_shape == (48, 40, 3)
    assert [getattr(x, "filters", None) for x in scaled.body.layers] == [8, None, None, 12]
    assert scaled.body.layers[1].block.filters == 8


def test_total_stride():
    assert total_stride(small_network()) == (8, 8)
    assert total_stride(builder.load("efficientnet_b0")) == (32, 32)
    assert total_stride(builder.load("mobilenet")) == (32, 32)


@pytest.mark.parametrize("kwargs, match", [
    ({"width": 0}, "width must be a number > 0, got 0"),
    ({"width": -1.0}, "width"),
    ({"depth": 0.0}, "depth must be a number > 0"),
    ({"resolution": 4}, "resolution 4 is smaller than the network's total stride 8x8"),
    ({"resolution": (32, 0)}, "resolution must be a positive int"),
])
def test_scale_rejects_bad_input(kwargs, match):
    with pytest.raises(BlueprintError, match=match):
        scale(small_network(), **kwargs)


def test_scale_resolution_below_efficientnet_stride():
    with pytest.raises(BlueprintError, match="total stride 32x32"):
        scale(builder.load("efficientnet_b0"), resolution=16)


def test_resolution_needs_a_network():
    with pytest.raises(BlueprintError, match="resolution needs a Network"):
        scale(Conv2D(8), resolution=32)


def test_scaled_conv_keeps_groups_valid():
    # 24 filters in 3 groups -> x0.5 -> 16, not divisible by 3: the blueprint says so.
    bp = Network((32, 32, 6), Sequence((Conv2D(24, groups=3, name="conv"),)))
    with pytest.raises(BlueprintError, match="not divisible by groups"):
        scale(bp, width=0.5)


# --- the EfficientNet table -------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(EFFICIENTNET))
def test_efficientnet_counts(name):
    size, with_top, without_top = EFFICIENTNET[name]
    bp = builder.load(name)
    assert bp.input_shape == (size, size, 3)
    assert builder.analyze(bp).total_params == with_top
    assert builder.analyze(builder.load(name, include_top=False)).total_params == without_top


def test_efficientnet_b0_non_trainable():
    # BN moving statistics plus Normalization's mean, variance (3 each) and count.
    report = builder.analyze(builder.load("efficientnet_b0"))
    assert report.non_trainable_params == 42_023
    assert report.trainable_params == 5_288_548


def test_variants_are_b0_through_scale():
    b0 = builder.load("efficientnet_b0", dropout=0.3)
    b3 = builder.load("efficientnet_b3")
    assert scale(b0, width=1.2, depth=1.4, resolution=300).replace(name=b3.name) == b3


def test_depth_scaling_spreads_the_drop_path_schedule():
    # Block b of N (from 0) drops with 0.2 * b / N: B0 has 16 blocks, and its last one
    # (320 channels out of 192) has no shortcut to drop; B7 has 55.
    for name, blocks, last in (("efficientnet_b0", 16, 14), ("efficientnet_b7", 55, 54)):
        report = builder.analyze(builder.load(name, include_top=False))
        stage_rates = [n.layer.rate for n in report.graph.nodes
                       if n.kind == "Dropout" and n.path.startswith("blocks/")]
        assert max(stage_rates) == pytest.approx(0.2 * last / blocks)


# --- compound scaling -------------------------------------------------------------------------


def test_compound_multipliers():
    assert compound(0) == (1.0, 1.0, 1.0)
    width, depth, resolution = compound(1)
    assert (width, depth, resolution) == pytest.approx((1.1, 1.2, 1.15))
    assert compound(2) == pytest.approx((1.21, 1.44, 1.3225))


def test_compound_checks_the_flops_constraint():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        compound(1)  # 1.2 * 1.1**2 * 1.15**2 = 1.92: close to 2
    with pytest.warns(UserWarning, match=r"alpha \* beta\*\*2 \* gamma\*\*2 = 3\.000"):
        compound(1, alpha=3.0, beta=1.0, gamma=1.0)
    with pytest.raises(BlueprintError, match="beta must be >= 1"):
        compound(1, beta=0.5)


def test_compound_phi_1_of_b0_is_b2_sized():
    # width 1.1, depth 1.2: B2's multipliers (at 258 rather than 260 pixels).
    b0 = builder.load("efficientnet_b0")
    width, depth, resolution = compound(1)
    scaled = scale(b0, width, depth, round(224 * resolution))
    assert builder.analyze(scaled).total_params == 9_177_569


def test_solve_phi():
    b0 = builder.load("efficientnet_b0")
    # phi 0, 1, 2, 3: 5,330,571 / 9,177,569 / 12,342,743 / 16,462,143 parameters.
    phi, scaled = solve_phi(b0, max_params=12_000_000)
    assert phi == 1
    assert builder.analyze(scaled).total_params == 9_177_569
    assert solve_phi(b0, max_params=12_342_743)[0] == 2
    # MACs: 1.81 G at phi 2, 3.25 G at phi 3.
    assert solve_phi(b0, max_macs=3_000_000_000)[0] == 2
    assert solve_phi(b0, max_params=20_000_000, max_macs=1_000_000_000)[0] == 1
    with pytest.raises(BlueprintError, match="already exceeds the budget"):
        solve_phi(b0, max_params=1_000_000)
    with pytest.raises(BlueprintError, match="give max_params, max_macs"):
        solve_phi(b0)
