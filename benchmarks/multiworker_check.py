import json, os, sys
port0, port1, index = sys.argv[1], sys.argv[2], int(sys.argv[3])
os.environ["TF_CONFIG"] = json.dumps({"cluster": {"worker": [f"127.0.0.1:{port0}", f"127.0.0.1:{port1}"]},
                                      "task": {"type": "worker", "index": index}})
os.environ["KERAS_BACKEND"] = "tensorflow"
import numpy as np, tensorflow as tf, keras
strategy = tf.distribute.MultiWorkerMirroredStrategy()
with strategy.scope():
    model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(4), keras.layers.Dense(2)])
    model.compile("adam", "sparse_categorical_crossentropy")
x = np.random.rand(256, 8).astype("float32"); y = np.random.randint(0, 2, 256)
ds = tf.data.Dataset.from_tensor_slices((x, y)).batch(32)
try:
    model.fit(ds, epochs=1, verbose=0)
    print(f"worker {index}: fit OK, keras {keras.__version__}, tf {tf.__version__}")
except Exception as e:
    print(f"worker {index}: {type(e).__name__}: {str(e).splitlines()[0][:300]} (keras {keras.__version__}, tf {tf.__version__})")
