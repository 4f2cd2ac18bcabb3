#!/usr/bin/env bash
# GPU benchmark on a machine with JAX (or PyTorch) and a GPU, but no TensorFlow.
#   bash benchmarks/gpu.sh [arguments of benchmarks/gpu.py]
# Keras comes from wheels in .whl/ when there is no network (pip download them elsewhere:
# keras==3.15.1 and its pure-Python needs), else from PyPI.
set -euo pipefail
cd "$(dirname "$0")/.."
export KERAS_BACKEND=${KERAS_BACKEND:-jax}
if ! python3 -c "import keras" 2>/dev/null; then
  if [ -d .whl ]; then
    python3 -m pip install -q --no-index --no-deps --target /tmp/site .whl/*.whl
    export PYTHONPATH=/tmp/site:${PYTHONPATH:-}
  else
    python3 -m pip install -q keras==3.15.1
  fi
fi
python3 -c "import keras; print('keras', keras.__version__, 'backend', keras.backend.backend(), keras.distribution.list_devices())"
exec python3 benchmarks/gpu.py "$@"
