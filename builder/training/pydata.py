"""A keras.utils.PyDataset wrapper for multi-output models on the numpy pipeline."""

from __future__ import annotations

import keras


class Repeated(keras.utils.PyDataset):
    """The batches of ``inner`` with the labels repeated once per model output."""

    def __init__(self, inner, outputs: int):
        super().__init__()
        self.inner = inner
        self.outputs = outputs

    def __len__(self):
        return len(self.inner)

    def __getitem__(self, index):
        x, y = self.inner[index]
        return x, tuple([y] * self.outputs)

    def on_epoch_end(self):
        self.inner.on_epoch_end()
