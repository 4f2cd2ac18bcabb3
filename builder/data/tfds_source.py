"""``tfds:NAME[:VERSION][:SPLIT]``: a tensorflow-datasets dataset, prepared in a data
directory.

Nothing is downloaded unless ``download`` is true: a dataset that is not prepared
fails at once with a ``DataError`` saying where it was looked for. Examples stream
from the prepared files; validation and test come from the dataset's own
'validation' and 'test' splits where it has them, otherwise from the start of the
training split (tfds shuffles examples when it prepares a dataset; these holdouts are
not stratified). Importing this module does not import TensorFlow.
"""

from __future__ import annotations

import contextlib
import logging
import re
import shutil
import socket
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import DataError, did_you_mean
from .adapt import plan_adaptation
from .protocol import Opened, Request, Source, Stream, check_classes
from .split import holdout_sizes

# A tfds version such as 3.0.1 or 3.*.* may follow the name: tfds:mnist:3.0.1:train.
_VERSION = re.compile(r"^\d+\.(\d+|\*)\.(\d+|\*)$")


@dataclass(frozen=True)
class Tfds(Source):
    """``arg`` is the dataset name (possibly ``name/config:version``); ``split`` the
    split used for training (``train`` unless given)."""

    kind = "tfds"
    form = "tfds:NAME[:SPLIT]"
    argument = "a dataset name"

    split: str = "train"

    def __str__(self) -> str:
        return f"tfds:{self.arg}:{self.split}"

    @classmethod
    def parse(cls, arg):
        # A split may itself hold colons ("train[:10%]").
        name, _, rest = arg.partition(":")
        version, _, split_rest = rest.partition(":")
        if _VERSION.match(version):
            name, rest = f"{name}:{version}", split_rest
        return cls(name.strip(), rest.strip() or "train")

    def open(self, request: Request) -> Opened:
        return open_tfds(self, request)


def open_tfds(src: Tfds, request: Request) -> Opened:
    import tensorflow_datasets as tfds

    builder = _prepared(src, request)
    features = builder.info.features
    image_key = _feature(src, features, "image", tfds.features.Image, "image")
    label_key = _feature(src, features, "label", tfds.features.ClassLabel, "class label")
    label = features[label_key]
    num_classes = int(label.num_classes)
    check_classes(src, num_classes, request.classes)
    dtype = np.dtype(features[image_key].np_dtype)
    scale = float(np.iinfo(dtype).max) if np.issubdtype(dtype, np.integer) else 1.0
    plan = plan_adaptation(str(src), tuple(features[image_key].shape), request.input_shape, scale)

    def stream(spec: str, labels_only: bool = False):
        decoders = {image_key: tfds.decode.SkipDecoding()} if labels_only else None
        try:
            ds = builder.as_dataset(split=spec, shuffle_files=False, decoders=decoders)
        except ValueError as error:
            raise DataError(f"{src}: bad split {spec!r}: {_first_line(error)}"
                            f"{did_you_mean(spec, list(builder.info.splits.keys()))}") from error
        if labels_only:
            return ds.map(lambda ex: ex[label_key])
        return ds.map(lambda ex: (ex[image_key], ex[label_key]))

    parts, carve = _parts(src, request, builder, stream)
    counts = np.zeros(max(request.classes, num_classes), np.int64)
    for batch in carve(stream(src.split, labels_only=True), "train").batch(4096):
        counts += np.bincount(batch.numpy().astype(np.int64), minlength=len(counts))
    shard = request.shard
    left_out = shard.left_out_of(parts)
    parts = {name: Stream(shard.of_dataset(part.dataset, part.size), shard.size(part.size))
             for name, part in parts.items()}
    return Opened(parts, plan, num_classes, [str(n) for n in label.names],
                  counts[:request.classes], left_out=left_out)


def _prepared(src: Tfds, request: Request):
    """The dataset's builder, prepared (downloaded only where ``download``)."""
    builder = _builder(src, request.data_dir)
    with _quiet_absl():  # "Variant folder ... has no dataset_info.json": said below
        prepared = builder.is_prepared()
    if not prepared:
        if not request.download:
            raise DataError(
                f"{src}: the dataset is not prepared in {builder.data_dir_root}; pass "
                f"download=True to download and prepare it there (downloading needs network "
                f"access), or `data_dir` to point at a directory where it is prepared",
                arguments=("download", "data_dir"))
        if _downloads(builder):
            _check_network(src)
        root = Path(builder.data_dir_root)
        before = _made_by_download(root, src)
        try:
            builder.download_and_prepare()
        except BaseException as error:  # network, checksum, manual-download datasets, ^C
            _remove_new(_made_by_download(root, src) - before)
            if not isinstance(error, Exception):
                raise
            raise DataError(f"{src}: could not download and prepare the dataset into "
                            f"{builder.data_dir_root} (downloading needs network access): "
                            f"{_first_line(error)}") from error
    return builder


#: Where tfds downloads from first (its mirror); a proxy, where set, is checked instead.
MIRROR = ("storage.googleapis.com", 443)


def _downloads(builder) -> bool:
    """Whether preparing ``builder`` downloads: not where ``tfds.testing.mock_data`` (or a
    builder of its own) has replaced tfds's ``download_and_prepare``."""
    method = getattr(type(builder), "download_and_prepare", None)
    return getattr(method, "__module__", "").startswith("tensorflow_datasets.core")


def _check_network(src: Tfds) -> None:
    """A ``DataError`` at once where no download can start: offline, tfds retries every
    file for minutes before it fails."""
    host, port = MIRROR
    proxy = urllib.request.getproxies().get("https")
    if proxy:
        parts = urllib.parse.urlsplit(proxy if "://" in proxy else f"http://{proxy}")
        host, port = parts.hostname or host, parts.port or (443 if parts.scheme == "https" else 80)
    try:
        socket.create_connection((host, port), timeout=5).close()
    except OSError as error:
        reason = getattr(error, "strerror", None) or type(error).__name__
        raise DataError(f"{src}: cannot download: {host}:{port} is unreachable ({reason}); "
                        f"downloading needs network access (prepare the dataset on a machine "
                        f"that has it, then pass `data_dir` to a copy)", arguments=("data_dir",)) from None


def _made_by_download(root: Path, src: Tfds) -> set[Path]:
    """What a failed download may leave: tfds's partial files (``*.tmp.*``), its
    unfinished dataset folders (``*.incomplete*``) and the folders it makes."""
    name = src.arg.split(":")[0].split("/")[0]
    downloads = root / "downloads"
    folders = [root, downloads, downloads / "extracted", downloads / name, root / name]
    found = {f for f in folders if f.is_dir()} | set((root / name).glob("*.incomplete*"))
    return found | (set(downloads.rglob("*.tmp.*")) if downloads.is_dir() else set())


def _remove_new(paths: set[Path]) -> None:
    """Remove what a failed download left: its files, then its folders where empty."""
    for path in sorted(paths, key=lambda p: len(p.parts), reverse=True):
        if path.is_dir() and (".tmp." in path.name or ".incomplete" in path.name):
            shutil.rmtree(path, ignore_errors=True)
        elif path.is_dir():
            with contextlib.suppress(OSError):
                path.rmdir()  # only if empty
        else:
            path.unlink(missing_ok=True)


def _parts(src: Tfds, request: Request, builder, stream):
    """Train, validation and test streams: the dataset's own validation and test splits
    where it has them, else carved from the start of the training split."""
    available = list(builder.info.splits.keys())  # empty where tfds does not know them
    used = set(re.findall(r"[A-Za-z_][\w-]*", src.split))
    pool = stream(src.split)
    n_pool = _size(pool)
    own = {part: part in available and part not in used for part in ("validation", "test")}
    n_val, n_test = holdout_sizes(n_pool, 0.0 if own["validation"] else request.validation_split,
                                  0.0 if own["test"] else request.test_split)
    if n_pool - n_val - n_test < 1:
        raise DataError(f"{src}: split {src.split!r} has {n_pool} examples, too few to hold "
                        f"out {n_val} for validation and {n_test} for test")

    def carve(ds, part: str):
        start = {"test": 0, "validation": n_test, "train": n_test + n_val}[part]
        count = {"test": n_test, "validation": n_val, "train": -1}[part]
        return ds.skip(start).take(count)

    parts = {"train": Stream(carve(pool, "train"), n_pool - n_val - n_test)}
    for part, n_carved in (("validation", n_val), ("test", n_test)):
        if own[part]:
            ds = stream(part)
            parts[part] = Stream(ds, _size(ds))
        else:
            parts[part] = Stream(carve(pool, part), n_carved)
    return parts, carve


def _size(ds) -> int:
    n = int(ds.cardinality())
    if n < 0:  # unknown: count
        n = int(ds.reduce(np.int64(0), lambda count, _: count + 1))
    return n


def _builder(src: Tfds, data_dir: str | None):
    import tensorflow_datasets as tfds

    try:
        return tfds.builder(src.arg, data_dir=data_dir)
    except tfds.core.DatasetNotFoundError as error:
        base = src.arg.split(":")[0].split("/")[0]
        known = tfds.list_builders(with_community_datasets=False)
        if base in known:  # the dataset exists; its config or version does not
            raise DataError(f"{src}: {_first_line(error)}") from error
        raise DataError(f"{src}: tensorflow-datasets has no dataset {base!r}"
                        f"{did_you_mean(base, known)}") from error
    except Exception as error:  # a builder that cannot be made (missing extra, bad config)
        raise DataError(f"{src}: cannot open the dataset: {_first_line(error)}") from error


@contextlib.contextmanager
def _quiet_absl():
    """absl's warnings (tfds logs through it) held back: our error says it in one line."""
    logger = logging.getLogger("absl")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def _feature(src: Tfds, features, key: str, kind, what: str) -> str:
    """The key of the image (or label) feature: ``key`` if it is one, else the only one."""
    items = dict(features.items()) if hasattr(features, "items") else {}
    if isinstance(items.get(key), kind):
        return key
    found = [k for k, f in items.items() if isinstance(f, kind)]
    if len(found) == 1:
        return found[0]
    listing = ", ".join(f"{k!r} ({type(f).__name__})" for k, f in items.items()) or "none"
    problem = f"several {what} features" if found else f"no {what} feature"
    raise DataError(f"{src}: found {problem} (features: {listing}); loading needs exactly "
                    f"one {kind.__name__} feature, ideally named {key!r}")


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
