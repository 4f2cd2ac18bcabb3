"""Bad blueprints: a named error with the path, the values and the fix; never a traceback
from the backend."""

import json

import pytest

import builder
from builder import (Activation, BlueprintError, Conv2D, Dense, Flatten, Network,
                     Parallel, Residual, Sequence)


def analyze(bp, shape=(32, 32, 3)):
    return builder.analyze(bp, input_shape=shape)


@pytest.mark.parametrize("make, words", [
    (lambda: Conv2D(-3), ["Conv2D.filters", ">= 1", "-3"]),
    (lambda: Conv2D(0), ["Conv2D.filters"]),
    (lambda: Conv2D("32"), ["Conv2D.filters", "an int", "'32'"]),
    (lambda: Conv2D(32, padding="sme"), ["Conv2D.padding", "did you mean 'same'"]),
    (lambda: Conv2D(32, kernel=3), ["unknown field 'kernel'", "did you mean 'kernel_size'"]),
    (lambda: Conv2D(32, kernel_size=(3, 3, 3)), ["Conv2D.kernel_size"]),
    (lambda: Conv2D(30, groups=4), ["not divisible by groups 4"]),
    (lambda: Activation("rleu"), ["Activation.function", "did you mean 'relu'"]),
    (lambda: Dense(10, activation="softmx"), ["did you mean 'softmax'"]),
    (lambda: builder.Dropout(1.5), ["Dropout.rate", "< 1.0"]),
    (lambda: Sequence(()), ["Sequence.layers is empty"]),
    (lambda: Parallel((Conv2D(8),)), ["at least two branches"]),
    (lambda: Sequence((Conv2D(8, name="a"), Conv2D(8, name="a"))), ["two children are named 'a'"]),
    (lambda: Conv2D(8, name="a/b"), ["not a usable name"]),
    (lambda: builder.Choice([]), ["at least one value"]),
    (lambda: builder.Int(5, 1), ["low 5 > high 1"]),
    (lambda: Conv2D(builder.Choice(["wide"])), ["Conv2D.filters", "'wide'"]),
    (lambda: Activation(builder.Int(1, 3)), ["Activation.function"]),
])
def test_invalid_fields(make, words):
    with pytest.raises(BlueprintError) as e:
        make()
    for w in words:
        assert w in str(e.value)


def test_negative_size_names_the_path():
    bp = Sequence((Conv2D(8, 3, strides=2, name="c1"),
                   Sequence((Conv2D(8, 7, padding="valid", name="conv2"),), name="block1")),
                  name="stage2")
    with pytest.raises(BlueprintError) as e:
        analyze(bp, (8, 8, 3))
    assert e.value.path == "stage2/block1/conv2"
    assert "does not fit" in str(e.value)


def test_add_of_different_shapes():
    bp = Parallel((Conv2D(8), Conv2D(16)), merge="add", name="merge")
    with pytest.raises(BlueprintError) as e:
        analyze(bp)
    assert e.value.path == "merge/add"
    assert "(32, 32, 8)" in str(e.value) and "(32, 32, 16)" in str(e.value)


def test_concat_of_different_spatial_sizes():
    bp = Parallel((Conv2D(8), Conv2D(8, strides=2)), name="mix")
    with pytest.raises(BlueprintError) as e:
        analyze(bp)
    assert e.value.path == "mix/concat"
    assert "(32, 32, 8)" in str(e.value) and "(16, 16, 8)" in str(e.value)


def test_residual_that_changes_channels_needs_a_projection():
    block = Residual(Sequence((Conv2D(64, name="conv1"), Conv2D(128, name="conv2"))), name="block1")
    with pytest.raises(BlueprintError) as e:
        analyze(Sequence((block,), name="stage2"), (16, 16, 64))
    assert e.value.path == "stage2/block1"
    assert "projection shortcut" in str(e.value) and "Conv2D(128, 1" in str(e.value)
    # with the projection it is fine
    fixed = block.replace(shortcut=Conv2D(128, 1))
    assert analyze(fixed, (16, 16, 64)).output_shape == (16, 16, 128)


def test_layer_on_wrong_rank():
    bp = Sequence((Flatten(name="flat"), Conv2D(8, name="conv")))
    with pytest.raises(BlueprintError) as e:
        analyze(bp)
    assert e.value.path == "conv" and "(height, width, channels)" in str(e.value)


def test_non_network_needs_input_shape():
    with pytest.raises(BlueprintError, match="input_shape"):
        builder.analyze(Conv2D(8))


def test_build_raises_blueprint_error_not_backend_error():
    bp = Network((4, 4, 3), Conv2D(8, 7, padding="valid", name="big"))
    with pytest.raises(BlueprintError) as e:
        builder.build(bp)
    assert e.value.path == "big"


def test_replace_checks_again():
    with pytest.raises(BlueprintError, match="Conv2D.filters"):
        Conv2D(8).replace(filters=-1)
    with pytest.raises(BlueprintError, match="no field 'filter'"):
        Conv2D(8).replace(filter=3)


@pytest.mark.parametrize("doc, words", [
    ({"type": "Conv3D", "filters": 3}, ["unknown blueprint type 'Conv3D'", "did you mean 'Conv2D'"]),
    ({"type": "os.system", "command": "true"}, ["unknown blueprint type 'os.system'"]),
    ({"type": "builtins.eval"}, ["unknown blueprint type"]),
    ({"type": "Conv2D", "filters": 8, "__class__": "x"}, ["no field '__class__'"]),
    ({"type": "Conv2D", "filters": 8, "activation": "os.system"}, ["Conv2D.activation"]),
    ({"filters": 8}, ["without a \"type\""]),
    ({"type": "Sequence", "layers": [{"type": "Conv2D", "filters": -1}]}, ["$.layers[0]", "Conv2D.filters"]),
])
def test_json_refuses_unknown_types_and_code(doc, words):
    with pytest.raises(BlueprintError) as e:
        builder.from_json(json.dumps(doc), source="net.json")
    assert e.value.path == "net.json"
    for w in words:
        assert w in str(e.value)


def test_bad_json_text():
    with pytest.raises(BlueprintError, match="not valid JSON"):
        builder.from_json("{", source="x.json")
