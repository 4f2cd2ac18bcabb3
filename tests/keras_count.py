"""An independent count of multiply-accumulates over a built Keras model.

It reads only the Keras layers' configs and shapes, not builder's op table, so the
registry tests can check the analysis against it.
"""

import math


def _shape(tensor):
    return tuple(tensor.shape)[1:]


def keras_macs(model) -> int:
    import keras

    total = 0
    for layer in model.layers:
        if isinstance(layer, keras.layers.Bidirectional):
            total += 2 * _rnn_macs(layer.forward_layer, _shape(layer.input))
            continue
        if not layer.weights or not hasattr(layer, "input"):
            continue
        out = _shape(layer.output)
        inp = _shape(layer.input)
        if isinstance(layer, keras.layers.SeparableConv2D):
            kh, kw = layer.kernel_size
            mid = inp[-1] * layer.depth_multiplier
            total += out[0] * out[1] * (kh * kw * mid + mid * layer.filters)
        elif isinstance(layer, keras.layers.DepthwiseConv2D):
            kh, kw = layer.kernel_size
            total += out[0] * out[1] * kh * kw * out[-1]
        elif isinstance(layer, keras.layers.Conv2D):
            kh, kw = layer.kernel_size
            total += out[0] * out[1] * kh * kw * (inp[-1] // layer.groups) * layer.filters
        elif isinstance(layer, keras.layers.Dense):
            total += math.prod(d or 1 for d in inp[:-1]) * inp[-1] * layer.units
        elif isinstance(layer, (keras.layers.SimpleRNN, keras.layers.LSTM, keras.layers.GRU)):
            total += _rnn_macs(layer, inp)
    return total


def _rnn_macs(layer, inp):
    import keras

    gates = {keras.layers.SimpleRNN: 1, keras.layers.LSTM: 4, keras.layers.GRU: 3}[type(layer)]
    steps, features = inp
    return (steps or 1) * gates * layer.units * (features + layer.units)
