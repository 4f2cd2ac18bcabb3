"""Weight transfer by structure between models built differently."""

import numpy as np
import pytest

import builder
from builder import BlueprintError, Conv2D, Dense, GlobalPool, Network, Parallel, Sequence


def twin_models():
    import keras
    from keras import layers

    x = keras.Input((16, 16, 3))
    # branches listed in the other order, and different names: structure still matches
    b = layers.Conv2D(4, 1, name="k_b")(x)
    a = layers.Conv2D(4, 3, padding="same", name="k_a")(x)
    y = layers.Concatenate()([a, b])
    y = layers.GlobalAveragePooling2D()(y)
    y = layers.Dense(5, name="k_dense")(y)
    src = keras.Model(x, y)
    ours = builder.build(Network((16, 16, 3), Sequence((
        Parallel((Conv2D(4, 3, name="a"), Conv2D(4, 1, name="b")), name="mix"),
        GlobalPool(name="pool"), Dense(5, name="fc")))))
    return src, ours


def test_transfer_gives_identical_outputs():
    src, ours = twin_models()
    pairs = builder.transfer_weights(src, ours)
    assert ("k_a", "mix.a") in pairs and ("k_b", "mix.b") in pairs
    x = np.random.default_rng(1).random((2, 16, 16, 3)).astype("float32")
    np.testing.assert_allclose(src(x), ours(x), atol=1e-5)


def test_mismatch_names_the_first_layer_and_both_shapes():
    src, _ = twin_models()
    other = builder.build(Network((16, 16, 3), Sequence((
        Parallel((Conv2D(4, 3, name="a"), Conv2D(6, 1, name="b")), name="mix"),
        GlobalPool(name="pool"), Dense(5, name="fc")))))
    with pytest.raises(BlueprintError) as e:
        builder.transfer_weights(src, other)
    message = str(e.value)
    assert "k_b" in message and "(1, 1, 3, 4)" in message and "mix.b" in message


def test_build_with_weights_from_a_model_and_a_file(tmp_path):
    src, ours = twin_models()
    builder.transfer_weights(src, ours)
    path = tmp_path / "net.keras"
    ours.save(path)
    bp = Network((16, 16, 3), Sequence((
        Parallel((Conv2D(4, 3, name="a"), Conv2D(4, 1, name="b")), name="mix"),
        GlobalPool(name="pool"), Dense(5, name="fc"))))
    again = builder.build(bp, weights=str(path))
    x = np.random.default_rng(2).random((1, 16, 16, 3)).astype("float32")
    np.testing.assert_allclose(again(x), src(x), atol=1e-5)
    with pytest.raises(BlueprintError, match="no such weights file"):
        builder.build(bp, weights=str(tmp_path / "none.keras"))


def test_one_by_one_conv_on_a_one_by_one_map_transfers_to_dense():
    import keras
    from keras import layers

    x = keras.Input((4, 4, 8))
    y = layers.GlobalAveragePooling2D(keepdims=True)(x)
    y = layers.Conv2D(3, 1, name="conv_preds")(y)
    y = layers.Reshape((3,))(y)
    src = keras.Model(x, y)
    ours = builder.build(Network((4, 4, 8), Sequence((GlobalPool(name="pool"), Dense(3, name="fc")))))
    builder.transfer_weights(src, ours)
    data = np.random.default_rng(3).random((2, 4, 4, 8)).astype("float32")
    np.testing.assert_allclose(src(data), ours(data), atol=1e-5)
