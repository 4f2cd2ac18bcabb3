"""Training, evaluation and prediction of blueprints (``builder train/evaluate/predict``).

```python
from builder.training import TrainOptions, train
metrics = train("lenet5", TrainOptions(epochs=10), out="runs/lenet")
```

Modules: ``options`` (every choice, checked), ``precision`` (float32 / mixed, ``auto``
measures), ``strategy`` (MirroredStrategy, JAX DataParallel), ``callbacks`` (schedule,
epoch checkpoints), ``rundir`` (written beside, renamed into place), ``loop`` (train),
``inference`` (evaluate, predict), ``report`` (history.csv, curves.png, summary.txt).
Importing this package imports Keras.
"""

from .inference import evaluate_run, load_run, predict_files
from .loop import TrainingStopped, train
from .options import TrainOptions

__all__ = ["TrainOptions", "TrainingStopped", "evaluate_run", "load_run", "predict_files",
           "train"]
