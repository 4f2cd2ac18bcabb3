"""Recurrent blocks and the digits sequence classifiers: the cell formulas by hand,
stacking, bidirectional merges, the image-to-sequence bridge, and the error for an image
fed to a recurrent layer."""

import numpy as np
import pytest

import builder
from builder import BlueprintError, Network, Sequence
from builder.blocks import ConvBN, ImageToSequence, Recurrent


def lstm(features, units):
    return 4 * (units * (features + units) + units)


def gru(features, units):  # Keras's GRU, reset_after=True: two biases per gate
    return 3 * units * (features + units) + 6 * units


def simple_rnn(features, units):
    return units * (features + units) + units


def analyze(bp, shape):
    return builder.analyze(bp, input_shape=shape)


@pytest.mark.parametrize("cell, formula", [("lstm", lstm), ("gru", gru),
                                           ("simple_rnn", simple_rnn)])
def test_cell_parameters_by_hand(cell, formula):
    report = analyze(Recurrent(cell, 16), (8, 8))
    assert report.output_shape == (16,)
    assert report.total_params == formula(8, 16)
    # LSTM 8->16: 4 * (16 * 24 + 16) = 1,600; GRU: 3 * 16 * 24 + 96 = 1,248; RNN: 400
    assert report.total_params == {"lstm": 1600, "gru": 1248, "simple_rnn": 400}[cell]


def test_stacked_layers_pass_sequences_between_them():
    report = analyze(Recurrent("lstm", 32, layers=3, name="rnn"), (10, 5))
    rows = {row.path: row for row in report.blocks(2)}
    assert rows["rnn/lstm1"].output_shape == (10, 32)
    assert rows["rnn/lstm2"].output_shape == (10, 32)
    assert rows["rnn/lstm3"].output_shape == (32,)
    assert report.total_params == lstm(5, 32) + 2 * lstm(32, 32)
    sequences = analyze(Recurrent("gru", 8, layers=2, return_sequences=True), (10, 5))
    assert sequences.output_shape == (10, 8)


@pytest.mark.parametrize("merge_mode, width", [("concat", 24), ("sum", 12), ("mul", 12),
                                               ("ave", 12)])
def test_bidirectional_merge_modes(merge_mode, width):
    report = analyze(Recurrent("gru", 12, layers=2, bidirectional=True, merge_mode=merge_mode),
                     (6, 4))
    assert report.output_shape == (width,)
    assert report.total_params == 2 * gru(4, 12) + 2 * gru(width, 12)


def test_stacked_bidirectional_counts_equal_keras():
    import keras

    keras.backend.clear_session()
    bp = Network((7, 5), Recurrent("simple_rnn", 6, layers=2, bidirectional=True,
                                   merge_mode="sum", dropout=0.1, name="rnn"))
    model = builder.build(bp)
    assert model.count_params() == builder.analyze(bp).total_params == 2 * (
        simple_rnn(5, 6) + simple_rnn(6, 6))


def test_image_to_sequence_reads_columns_left_to_right():
    import keras

    keras.backend.clear_session()
    bp = Network((2, 3, 4), ImageToSequence(name="columns"))
    assert builder.analyze(bp).output_shape == (3, 8)
    x = np.arange(24, dtype="float32").reshape(1, 2, 3, 4)
    y = np.asarray(builder.build(bp)(x))
    # time step w holds column w: every row h's channels, row after row
    for w in range(3):
        np.testing.assert_array_equal(y[0, w], x[0, :, w, :].reshape(-1))


def test_image_to_sequence_needs_an_image():
    with pytest.raises(BlueprintError) as e:
        analyze(Sequence((ImageToSequence(name="columns"),), name="body"), (8, 8))
    assert e.value.path == "body/columns"
    assert "(H, W, C)" in str(e.value)


def test_recurrent_fed_an_image_names_the_path_and_the_fix():
    bp = Sequence((ConvBN(8, 3, name="conv"), Recurrent("lstm", 16, name="rnn")), name="body")
    with pytest.raises(BlueprintError) as e:
        analyze(bp, (16, 16, 1))
    assert e.value.path == "body/rnn"
    message = str(e.value)
    assert "(16, 16, 8)" in message and "ImageToSequence" in message
    # With the bridge it works: 16 time steps of 16 * 8 features.
    fixed = Sequence((ConvBN(8, 3, name="conv"), ImageToSequence(name="columns"),
                      Recurrent("lstm", 16, name="rnn")), name="body")
    assert analyze(fixed, (16, 16, 1)).total_params == 72 + 32 + lstm(128, 16)


@pytest.mark.parametrize("make, words", [
    (lambda: Recurrent("lstmm"), ["Recurrent.cell", "did you mean 'lstm'"]),
    (lambda: Recurrent(units=0), ["Recurrent.units"]),
    (lambda: Recurrent(layers=0), ["Recurrent.layers"]),
    (lambda: Recurrent(dropout=1.0), ["Recurrent.dropout"]),
    (lambda: Recurrent(merge_mode="avg"), ["Recurrent.merge_mode", "did you mean 'ave'"]),
])
def test_invalid_fields(make, words):
    with pytest.raises(BlueprintError) as e:
        make()
    for w in words:
        assert w in str(e.value)


def test_digits_rnn_figures():
    # Reshape (8, 8, 1) -> 8 rows of 8 pixels; LSTM(64): 18,688; Dense 64 -> 10: 650.
    report = builder.analyze(builder.load("digits_rnn"))
    assert report.input_shape == (8, 8, 1)
    assert report.output_shape == (10,)
    assert report.total_params == report.trainable_params == 19_338
    assert lstm(8, 64) == 18_688
    assert report.total_params == lstm(8, 64) + 64 * 10 + 10
    features = builder.analyze(builder.load("digits_rnn", include_top=False))
    assert features.output_shape == (64,) and features.total_params == 18_688
    # the bidirectional GRU option: 2 * (3 * 32 * 40 + 192) + 64 * 10 + 10 = 8,714
    bigru = builder.analyze(builder.load("digits_rnn", cell="gru", units=32, bidirectional=True))
    assert bigru.total_params == 2 * gru(8, 32) + 650 == 8_714


def test_digits_crnn_figures():
    # conv 3x3x1x16 (144) + BN 64, conv 3x3x16x32 (4,608) + BN 128, 8 columns of
    # 8 * 32 = 256 features, bidirectional GRU(64): 2 * 61,824, Dense 128 -> 10: 1,290.
    report = builder.analyze(builder.load("digits_crnn"))
    assert report.input_shape == (32, 32, 1)
    assert report.total_params == 129_882
    assert report.non_trainable_params == 96  # the BN moving statistics: 2 * (16 + 32)
    assert gru(256, 64) == 61_824
    assert report.total_params == 144 + 64 + 4608 + 128 + 2 * gru(256, 64) + 1290
    features = builder.analyze(builder.load("digits_crnn", include_top=False))
    assert features.output_shape == (128,) and features.total_params == 128_592
