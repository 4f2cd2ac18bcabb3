"""Training, evaluation and prediction of blueprints (``builder train/evaluate/predict``).

```python
from builder.training import TrainOptions, train
metrics = train("lenet5", TrainOptions(epochs=10), out="runs/lenet")
```

In pipeline order: ``options`` (every choice, typed and checked), ``plan`` (blueprint,
data and weights resolved; nothing written), ``rundir`` (owned by one process, written
beside, moved into place), ``session`` (placement, ``precision``, build or restore,
``compile``, the training phases with ``callbacks`` and ``state``), ``finish`` (save,
test, metrics, curves), ``record`` (config.json), ``report`` (history.csv, curves.png),
``trainer`` (``train``: the whole, top to bottom) and ``inference`` (evaluate, predict).
Importing this package does not import Keras (``options`` is read by the command line's
argument parser); its functions do.
"""

import importlib

_HOMES = {"TrainOptions": "options", "TrainingStopped": "finish", "train": "trainer",
          "evaluate_run": "inference", "load_run": "inference", "predict_files": "inference"}

__all__ = sorted(_HOMES)


def __getattr__(name):
    # Keras (and TensorFlow) load when a function is first asked for, not on import.
    if name in _HOMES:
        return getattr(importlib.import_module(f"{__name__}.{_HOMES[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
