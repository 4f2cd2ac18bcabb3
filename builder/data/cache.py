"""Where streamed parts (image files, tfds) are cached: ``none``, ``memory`` or a
directory (a tf.data file cache), and the rule ``auto`` follows.

``auto`` caches in memory when the streamed parts, adapted to the blueprint's input
(float32: examples x H x W x C x 4 bytes), take at most a quarter of the memory
available now (MemAvailable in /proc/meminfo, else the free physical pages); otherwise
nothing is cached and every epoch reads the files again. Sources held in memory
(digits, synthetic, npz) are not cached again.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from ..errors import ArgumentError, did_you_mean

#: The choices besides a directory.
CACHES: tuple[str, ...] = ("auto", "none", "memory")
#: ``auto`` caches in memory up to this share of the available memory.
MEMORY_SHARE = 0.25


@dataclass(frozen=True)
class CacheChoice:
    """The decision, as the run's report and config.json state it."""

    requested: str                 # auto, none, memory or a directory
    mode: str                      # none, memory, directory, or "source" (held in memory)
    bytes: int = 0                 # the streamed parts, adapted (float32)
    available: int | None = None   # memory available when decided, in bytes
    directory: str | None = None

    def for_part(self, name: str, key: str) -> str:
        """What the tf.data pipeline of part ``name`` caches to: "" nothing, "memory",
        or a file prefix in the directory (``key`` tells data and input apart)."""
        if self.mode == "memory":
            return "memory"
        if self.mode == "directory":
            return str(Path(self.directory) / f"{name}-{key}")
        return ""

    def record(self) -> dict:
        return asdict(self)

    def text(self) -> str:
        size = f"{self.bytes / 2**20:,.1f} MiB"
        if self.mode == "source":
            return "the data is held in memory"
        if self.mode == "directory":
            return f"cached in {self.directory} ({size} decoded)"
        if self.requested != "auto":
            return f"{'cached in memory' if self.mode == 'memory' else 'not cached'} " \
                   f"(cache={self.requested}; {size} decoded)"
        room = f"{self.available / 2**20:,.0f} MiB" if self.available else "unknown"
        verdict = "fits" if self.mode == "memory" else "does not fit"
        return (f"{'cached in memory' if self.mode == 'memory' else 'not cached'} (auto: "
                f"{size} decoded {verdict} in {MEMORY_SHARE:.0%} of {room} available)")


def available_memory() -> int | None:
    """Bytes of memory available now, or None where the system does not say."""
    try:
        with open("/proc/meminfo", encoding="ascii") as info:
            for line in info:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def check_cache(cache) -> str:
    """``cache`` checked: auto, none, memory, or a directory (made absolute)."""
    if cache is True:
        return "auto"
    if cache is False or cache is None:
        return "none"
    if not isinstance(cache, (str, os.PathLike)) or not str(cache).strip():
        raise ArgumentError(f"`cache` must be auto, none, memory or a directory, not "
                            f"{cache!r}", arguments=("cache",))
    text = str(cache).strip()
    if text in CACHES:
        return text
    folder = Path(text).expanduser().absolute()
    hint = did_you_mean(text, CACHES)
    if hint and not folder.is_dir() and os.sep not in text:
        raise ArgumentError(f"cache={text!r} is neither auto, none nor memory{hint}; a new "
                            f"directory named so is written ./{text}", arguments=("cache",))
    if folder.exists() and not folder.is_dir():
        raise ArgumentError(f"cache={text!r} is a file; give a directory for the tf.data "
                            f"cache (or auto, none, memory)", arguments=("cache",))
    return str(folder)


def decide(requested: str, streamed: int, target: tuple[int, ...]) -> CacheChoice:
    """The cache of ``streamed`` examples adapted to ``target`` (0: the data is in
    memory). A directory is made here."""
    if not streamed:
        return CacheChoice(requested, "source")
    size = streamed * int(np.prod(target)) * 4
    if requested not in CACHES:
        try:
            Path(requested).mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise ArgumentError(f"cache={requested!r}: cannot make the directory: "
                                f"{e.strerror}", arguments=("cache",)) from None
        return CacheChoice(requested, "directory", size, directory=requested)
    available = available_memory()
    if requested == "auto":
        fits = available is not None and size <= MEMORY_SHARE * available
        return CacheChoice(requested, "memory" if fits else "none", size, available)
    return CacheChoice(requested, requested, size, available)


def cache_key(*parts) -> str:
    """A short fingerprint of what a cached part holds (source, input, split, shard)."""
    return hashlib.sha1(repr(parts).encode()).hexdigest()[:12]
