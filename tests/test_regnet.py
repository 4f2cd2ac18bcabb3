"""RegNetX and RegNetY: the design-space rule gives keras.applications' stage widths and
depths for all 24 models, the parameter counts equal keras' to the unit, the blocks are
X and Y blocks, bad arguments are named, and keras' weights give the same outputs."""

import re

import pytest

import builder
from builder import BlueprintError
from builder.blocks import RegNetBlock, RegNetStage
from builder.regnet_rule import regnet

from tf_keras_reference import applications, assert_same_outputs

X, Y = "x", "y"

# keras.applications' MODEL_CONFIGS (tf.keras 2.21): depths, widths, group width per model.
KERAS_CONFIGS = {
    "x002": ((1, 1, 4, 7), (24, 56, 152, 368), 8),
    "x004": ((1, 2, 7, 12), (32, 64, 160, 384), 16),
    "x006": ((1, 3, 5, 7), (48, 96, 240, 528), 24),
    "x008": ((1, 3, 7, 5), (64, 128, 288, 672), 16),
    "x016": ((2, 4, 10, 2), (72, 168, 408, 912), 24),
    "x032": ((2, 6, 15, 2), (96, 192, 432, 1008), 48),
    "x040": ((2, 5, 14, 2), (80, 240, 560, 1360), 40),
    "x064": ((2, 4, 10, 1), (168, 392, 784, 1624), 56),
    "x080": ((2, 5, 15, 1), (80, 240, 720, 1920), 120),
    "x120": ((2, 5, 11, 1), (224, 448, 896, 2240), 112),
    "x160": ((2, 6, 13, 1), (256, 512, 896, 2048), 128),
    "x320": ((2, 7, 13, 1), (336, 672, 1344, 2520), 168),
    "y002": ((1, 1, 4, 7), (24, 56, 152, 368), 8),
    "y004": ((1, 3, 6, 6), (48, 104, 208, 440), 8),
    "y006": ((1, 3, 7, 4), (48, 112, 256, 608), 16),
    "y008": ((1, 3, 8, 2), (64, 128, 320, 768), 16),
    "y016": ((2, 6, 17, 2), (48, 120, 336, 888), 24),
    "y032": ((2, 5, 13, 1), (72, 216, 576, 1512), 24),
    "y040": ((2, 6, 12, 2), (128, 192, 512, 1088), 64),
    "y064": ((2, 7, 14, 2), (144, 288, 576, 1296), 72),
    "y080": ((2, 4, 10, 1), (168, 448, 896, 2016), 56),
    "y120": ((2, 5, 11, 1), (224, 448, 896, 2240), 112),
    "y160": ((2, 4, 11, 1), (224, 448, 1232, 3024), 112),
    "y320": ((2, 5, 12, 1), (232, 696, 1392, 3712), 232),
}

# keras.applications (tf.keras 2.21) RegNet<type><flops>(weights=None), 224x224x3, 1000
# classes: (total with top, trainable with top, total without top).
KERAS_PARAMS = {
    "regnetx_002": (2_705_640, 2_684_792, 2_336_640),
    "regnetx_004": (5_194_184, 5_157_512, 4_809_184),
    "regnetx_006": (6_229_320, 6_196_040, 5_700_320),
    "regnetx_008": (7_296_968, 7_259_656, 6_623_968),
    "regnetx_016": (9_233_640, 9_190_136, 8_320_640),
    "regnetx_032": (15_359_112, 15_296_552, 14_350_112),
    "regnetx_040": (22_194_312, 22_118_248, 20_833_312),
    "regnetx_064": (26_283_464, 26_209_256, 24_658_464),
    "regnetx_080": (39_663_112, 39_572_648, 37_742_112),
    "regnetx_120": (46_202_440, 46_106_056, 43_961_440),
    "regnetx_160": (54_389_704, 54_278_536, 52_340_704),
    "regnetx_320": (107_973_576, 107_811_560, 105_452_576),
    "regnety_002": (3_183_844, 3_162_996, 2_814_844),
    "regnety_004": (4_371_296, 4_344_144, 3_930_296),
    "regnety_006": (6_084_920, 6_055_160, 5_475_920),
    "regnety_008": (6_293_056, 6_263_168, 5_524_056),
    "regnety_016": (11_255_102, 11_202_430, 10_366_102),
    "regnety_032": (19_502_498, 19_436_338, 17_989_498),
    "regnety_040": (20_708_928, 20_646_656, 19_619_928),
    "regnety_064": (30_665_684, 30_583_252, 29_368_684),
    "regnety_080": (39_265_812, 39_180_068, 37_248_812),
    "regnety_120": (51_918_928, 51_822_544, 49_677_928),
    "regnety_160": (83_712_956, 83_590_140, 80_687_956),
    "regnety_320": (145_205_058, 145_046_770, 141_492_058),
}


def variant(key):
    """'y032' -> the rule's design of the registered variant."""
    from blueprints.regnet import design

    return design(key[0], key[1:])


def test_every_keras_model_is_registered():
    assert {f"regnet{k[0]}_{k[1:]}" for k in KERAS_CONFIGS} == set(KERAS_PARAMS)
    assert set(KERAS_PARAMS) <= set(builder.registry.names())


@pytest.mark.parametrize("key", sorted(KERAS_CONFIGS))
def test_the_rule_gives_keras_stages(key):
    depths, widths, group_width = KERAS_CONFIGS[key]
    result = variant(key)
    assert result.depths == depths
    assert result.widths == widths
    # keras keeps one group width and splits the 3x3 in width // g groups (at least 1);
    # the rule narrows g to a stage's width where the stage is narrower (x080's 80 < 120).
    assert result.group_widths == tuple(min(group_width, w) for w in widths)
    assert all(s.inner_width % s.group_width == 0 for s in result.stages)
    assert sum(result.depths) == len(result.block_widths)


def test_the_rule_follows_the_papers_equations():
    # RegNetX-200MF: u_j = 24 + 36.44 j; s_j = round(log(u_j / 24) / log(2.49));
    # w_j = 24 * 2.49 ** s_j to a multiple of 8: 24, 59.76 -> 56, 148.8 -> 152, 370.5 -> 368
    result = regnet(w0=24, wa=36.44, wm=2.49, depth=13, group_width=8)
    assert result.block_widths == (24, 56, 152, 152, 152, 152) + (368,) * 7
    assert result.widths == (24, 56, 152, 368) and result.depths == (1, 1, 4, 7)
    assert [s.se_ratio for s in result.stages] == [0.0] * 4


def test_group_width_compatibility_moves_widths_to_whole_groups():
    # RegNetX-400MF: the quantized widths 24, 152, 392 are not multiples of g = 16.
    result = regnet(w0=24, wa=24.48, wm=2.54, depth=22, group_width=16)
    assert sorted(set(result.block_widths)) == [24, 64, 152, 392]
    assert result.widths == (32, 64, 160, 384)
    # a bottleneck ratio: the inner width v = w * b splits into groups, and w = v / b:
    # 12 (g narrowed to 12), 32, 76 -> 80, 196 -> 192
    narrow = regnet(w0=24, wa=24.48, wm=2.54, depth=22, group_width=16, bottleneck_ratio=0.5)
    assert [s.inner_width for s in narrow.stages] == [12, 32, 80, 192]
    assert narrow.widths == (24, 64, 160, 384)
    assert narrow.group_widths == (12, 16, 16, 16)


@pytest.mark.parametrize("arguments, words", [
    (dict(wm=1.0), ["regnet: wm must be a number > 1, got 1.0"]),
    (dict(wa=-1.0), ["wa must be", ">= 0"]),
    (dict(depth=0), ["depth must be a whole number >= 1, got 0"]),
    (dict(w0=24.5), ["w0 must be a whole number"]),
    (dict(group_width=0), ["group_width"]),
    (dict(se_ratio=1.0), ["se_ratio must be a number in [0, 1)"]),
])
def test_bad_rule_arguments_are_named(arguments, words):
    good = dict(w0=24, wa=36.44, wm=2.49, depth=13, group_width=8)
    with pytest.raises(BlueprintError) as e:
        regnet(**{**good, **arguments})
    for w in words:
        assert w in str(e.value)


@pytest.mark.parametrize("name", sorted(KERAS_PARAMS))
def test_params_equal_keras_applications(name):
    total, trainable, without_top = KERAS_PARAMS[name]
    report = builder.analyze(builder.load(name))
    assert (report.total_params, report.trainable_params) == (total, trainable)
    assert report.input_shape == (224, 224, 3) and report.output_shape == (1000,)
    features = builder.analyze(builder.load(name, include_top=False))
    assert features.total_params == without_top
    last_width = KERAS_CONFIGS[name[6] + name[8:]][1][-1]
    assert features.output_shape == (7, 7, last_width)


@pytest.mark.parametrize("name", sorted(KERAS_PARAMS))
def test_macs_match_the_name(name):
    # The number in a name is the model's multiply-adds in hundreds of millions (the
    # paper's "flops", pycls' RegNetX-200MF ... 32GF); ours are within 1% at 224x224.
    macs = builder.analyze(builder.load(name)).macs
    assert abs(macs / (int(name[-3:]) * 1e8) - 1) < 0.01


def test_macs_pinned():
    assert builder.analyze(builder.load("regnetx_002")).macs == 199_039_872
    assert builder.analyze(builder.load("regnety_320")).macs == 32_279_552_832


def nodes(name):
    return {n.path: n for n in builder.analyze(builder.load(name)).graph.nodes}


def test_x_block_layout():
    n = nodes("regnetx_002")
    assert n["rescaling"].layer.scale == 1 / 255
    assert n["stem/conv"].shape == (112, 112, 32) and n["stem/conv"].layer.strides == (2, 2)
    # stage 3 (152 channels, groups of 8): the first block strides on its grouped 3x3 and
    # projects its shortcut; the others keep an identity
    assert n["stage3/block1/conv2/conv"].layer.groups == 19
    assert n["stage3/block1/conv2/conv"].layer.strides == (2, 2)
    assert n["stage3/block1/shortcut/conv"].shape == (14, 14, 152)
    assert "stage3/block2/shortcut/conv" not in n
    assert n["stage3/block2/out"].kind == "Activation"
    assert not any("/se/" in path for path in n)


def test_y_block_squeezes_from_the_block_input():
    n = nodes("regnety_002")
    # int(input channels * 0.25): 32 (the stem) -> 8, then 24 -> 6, then 56 -> 14
    assert n["stage1/block1/se/gate/reduce"].shape == (1, 1, 8)
    assert n["stage2/block1/se/gate/reduce"].shape == (1, 1, 6)
    assert n["stage3/block1/se/gate/reduce"].shape == (1, 1, 14)
    assert n["stage3/block2/se/gate/reduce"].shape == (1, 1, 38)
    assert n["stage3/block1/se/gate/expand"].shape == (1, 1, 152)


def test_block_checks_its_groups():
    with pytest.raises(BlueprintError) as e:
        RegNetBlock(36, group_width=8)
    assert "inner width 36" in str(e.value) and "builder.regnet_rule.regnet" in str(e.value)
    with pytest.raises(BlueprintError, match="RegNetBlock.bottleneck_ratio"):
        RegNetBlock(32, bottleneck_ratio=0.0)


def test_stage_summary_columns_are_the_papers(capsys, monkeypatch):
    stage = RegNetStage(152, 4, group_width=8)
    assert stage.summary_columns() == {"depth d": 4, "width w": 152, "group g": 8,
                                       "bottleneck b": "1"}
    from builder.summary import print_report

    monkeypatch.setenv("COLUMNS", "200")
    print_report(builder.analyze(builder.load("regnetx_002")), depth=1)
    out = capsys.readouterr().out
    for column in ("depth d", "width w", "group g", "bottleneck b"):
        assert column in out
    rows = {line.split("│")[1].strip(): [c.strip() for c in line.split("│")[4:8]]
            for line in out.splitlines() if re.match(r"│ stage\d", line)}
    assert rows == {"stage1": ["1", "24", "8", "1"], "stage2": ["1", "56", "8", "1"],
                    "stage3": ["4", "152", "8", "1"], "stage4": ["7", "368", "8", "1"]}


# --- keras.applications side by side --------------------------------------------------------


def keras_to_ours(name):
    """keras' RegNet layer name -> ours (the '/' of paths becomes '.')."""
    if name.endswith("head_dense"):  # keras numbers it: 1head_dense
        return "head.logits"
    if m := re.fullmatch(r"regnet[xy]\d{3}_stem_(conv|bn)", name):
        return f"stem.{m[1]}"
    m = re.fullmatch(r"regnet[xy]\d{3}_Stage_(\d)_[XY]Block_(\d+)_(\w+)", name)
    stage, block, unit = int(m[1]) + 1, int(m[2]) + 1, m[3]
    units = {"conv_1x1_1": "conv1.conv", "conv_1x1_1_bn": "conv1.bn",
             "conv_3x3": "conv2.conv", "conv_3x3_bn": "conv2.bn",
             "conv_1x1_2": "conv3.conv", "conv_1x1_2_bn": "conv3.bn",
             "skip_1x1": "shortcut.conv", "skip_bn": "shortcut.bn",
             "squeeze_and_excite_squeeze": "se.gate.reduce",
             "squeeze_and_excite_excite": "se.gate.expand"}
    return f"stage{stage}.block{block}.{units[unit]}"


@pytest.mark.parametrize("keras_name, name, layers", [
    ("RegNetX002", "regnetx_002", 89),
    ("RegNetY002", "regnety_002", 115),
])
@pytest.mark.slow
def test_keras_weights_give_the_same_outputs(keras_name, name, layers):
    import keras

    keras.backend.clear_session()
    theirs = getattr(applications(), keras_name)(weights=None, classifier_activation=None)
    pairs = assert_same_outputs(theirs, builder.load(name), 224)
    assert len(pairs) == layers
    assert all(keras_to_ours(src) == dst for src, dst in pairs)


@pytest.mark.slow
@pytest.mark.parametrize("keras_name, name", [
    ("RegNetX320", "regnetx_320"), ("RegNetY160", "regnety_160"), ("RegNetY320", "regnety_320"),
])
def test_large_models_equal_keras_side_by_side(keras_name, name):
    for include_top in (True, False):
        theirs = getattr(applications(), keras_name)(weights=None, include_top=include_top,
                                                     input_shape=(224, 224, 3))
        ours = builder.analyze(builder.load(name, include_top=include_top))
        assert ours.total_params == theirs.count_params()
        assert ours.output_shape == tuple(theirs.output_shape[1:])
        del theirs
