"""The data layer: from a source string to batched train/validation/test data.

```python
from builder.data import load_data
splits = load_data("digits", input_shape=(32, 32, 1), classes=10)
model.fit(splits.train, validation_data=splits.validation)
```

Sources (one module each, behind the protocol of ``protocol.py``): ``digits``
(scikit-learn's handwritten digits, no network), ``synthetic`` (learnable random data of
the blueprint's shape), ``folder:PATH`` (one subfolder of images per class), ``npz:PATH``
(arrays x/y or x_train/y_train[/x_test/y_test]) and ``tfds:NAME[:SPLIT]``
(tensorflow-datasets, prepared in a data directory). ``source.py`` switches on the kind,
once. ``folder`` and ``tfds`` stream: only file lists (or tfds's files) are held, and
examples are decoded as batches need them (``cache.py`` decides where decoded examples
are kept; ``files.py`` reads files and logs those it cannot). Pipelines: ``tf_pipeline``
(tf.data, for every backend where TensorFlow is installed) and ``py_dataset`` (numpy,
any backend).
Transforms: ``augment`` (flip, crop, rotate) and ``transforms`` (the imagenet training and
evaluation transforms; jitter, RandAugment, MixUp, CutMix through Keras's layers).

Importing this package does not import TensorFlow; ``pipeline="numpy"`` with the
in-memory sources and ``folder`` never does (keras itself may, on its TensorFlow backend).
"""

from builder.data.augment import AUGMENTATIONS
from builder.data.core import PIPELINES, DataSplits, load_data
from builder.data.protocol import Request, Shard, Source
from builder.data.source import KINDS, SOURCE_FORMS, SOURCES, parse_source

__all__ = [
    "AUGMENTATIONS",
    "DataSplits",
    "KINDS",
    "PIPELINES",
    "Request",
    "SOURCES",
    "SOURCE_FORMS",
    "Shard",
    "Source",
    "load_data",
    "parse_source",
]
