"""``TrainState``: what changes while a run trains, saved after every completed epoch.

It is written to ``checkpoints/state.json`` atomically after the epoch's model file is
complete, so a run killed at any moment resumes from a consistent last completed epoch.
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

STATE = "state.json"


@dataclasses.dataclass
class TrainState:
    epochs_completed: int = 0
    history: list[dict] = dataclasses.field(default_factory=list)  # one row per epoch
    train_seconds: float = 0.0      # training time, validation excluded, over resumes
    train_images: int = 0
    checkpoint: str | None = None   # the model file of the last completed epoch
    callbacks: dict = dataclasses.field(default_factory=dict)  # counters of stateful ones

    @property
    def images_per_second(self) -> float:
        return self.train_images / self.train_seconds if self.train_seconds else 0.0

    def save(self, folder: Path) -> None:
        write_json(Path(folder) / STATE, dataclasses.asdict(self))

    @classmethod
    def load(cls, folder: Path) -> "TrainState":
        saved = json.loads((Path(folder) / STATE).read_text(encoding="utf-8"))
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in saved.items() if k in names})


def write_json(path: Path, data) -> None:
    """Write JSON atomically (a temporary file, then rename)."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(data, f, indent=2, sort_keys=True)
        f.write("\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
