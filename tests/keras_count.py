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
        if isinstance(layer, keras.layers.MultiHeadAttention):
            total += _attention_macs(layer)
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


def _attention_macs(layer):
    """Q, K, V and output projections and, per head, Q K^T and the weighted sum of V,
    from the layer's config and the shapes of its query and value inputs."""
    config = layer.get_config()
    heads, key_dim = config["num_heads"], config["key_dim"]
    value_dim = config["value_dim"] or key_dim
    query, value = layer._inbound_nodes[0].input_tensors[:2]
    (t, features), (s, value_features) = _shape(query), _shape(value)
    out = config["output_shape"] or features
    out = math.prod(out) if isinstance(out, (list, tuple)) else out
    projections = (t * features * heads * key_dim + s * value_features * heads * key_dim
                   + s * value_features * heads * value_dim + t * heads * value_dim * out)
    return projections + heads * t * s * (key_dim + value_dim)
