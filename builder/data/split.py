"""Holding out validation and test examples, stratified by class and seeded."""

from __future__ import annotations

import numpy as np


def holdout_sizes(n: int, validation_split: float, test_split: float) -> tuple[int, int]:
    """How many of ``n`` examples go to validation and test (rounded fractions of n)."""
    return int(round(validation_split * n)), int(round(test_split * n))


def stratified_split(y: np.ndarray, n_validation: int, n_test: int, seed: int):
    """Indices (train, validation, test) into ``y``, each sorted.

    Splits keep the class proportions (``sklearn.model_selection.train_test_split``
    with ``stratify``) where that is possible: every class needs two examples and every
    part at least one example per class. Otherwise the split is random, still seeded.
    """
    from sklearn.model_selection import train_test_split

    index = np.arange(len(y))

    def cut(idx: np.ndarray, size: int):
        if size <= 0:
            return idx, idx[:0]
        labels = y[idx]
        _, counts = np.unique(labels, return_counts=True)
        can_stratify = (
            counts.min() >= 2 and size >= len(counts) and len(idx) - size >= len(counts)
        )
        keep, held = train_test_split(
            idx, test_size=size, random_state=seed, shuffle=True,
            stratify=labels if can_stratify else None,
        )
        return np.sort(keep), np.sort(held)

    rest, test = cut(index, n_test)
    train, validation = cut(rest, n_validation)
    return train, validation, test
