"""Export a trained run as SavedModel, .keras, ONNX or TFLite, verified and atomic.

Every export takes raw images: uint8 (0..255) or float32 (0..1), any batch size and any
height and width, with the model's channel count. The preprocessing (resize to the
blueprint's input, scale to [0, 1]) is inside the exported model, which returns the class
probabilities. After writing, the export is loaded back with the format's own runtime
(tf.saved_model.load, the .keras loader, onnxruntime, the TFLite interpreter) and its
outputs are compared with the Keras model's on the same images. The export is written to a
temporary sibling and moved into place only once verified, so a failed or interrupted
export leaves nothing at the target; the hidden sibling of a killed export is removed by
the next export to the same target.

Exports are float32, whatever precision the run trained in: a run trained under
``mixed_bfloat16`` or ``mixed_float16`` is built again from its blueprint under the float32
policy and given the trained weights (mixed-precision variables are float32 already), so
ONNX, TFLite and SavedModel runtimes get float32 kernels. That float32 model is the
reference the export is verified against; the training policy is recorded in the
metadata, and the difference from the model as trained is reported for information.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
import tempfile
import warnings
import zipfile

import numpy as np

from .compiler import build
from .errors import ArgumentError, UserError, writing
from .serialize import from_json
from .training.rundir import BLUEPRINT, CONFIG, METRICS, MODEL
from .weights import load_model_file

FORMATS = ("saved_model", "keras", "onnx", "tflite")
TOLERANCE = {"saved_model": 1e-4, "keras": 1e-4, "onnx": 1e-4, "tflite": 1e-3}
METADATA = "builder.json"


class ExportError(Exception):
    """An export that does not reproduce the Keras model (an internal fault)."""


@dataclasses.dataclass
class Run:
    path: str
    model: object              # float32: what is exported
    blueprint_json: str
    config: dict
    metrics: dict
    trained_policy: str = "float32"
    trained_model: object = None  # the model as trained, where its policy was not float32

    @property
    def input_shape(self) -> tuple:
        return tuple(self.model.inputs[0].shape[1:])

    def metadata(self) -> dict:
        canonical = json.dumps(json.loads(self.blueprint_json), sort_keys=True)
        return {
            "blueprint": json.loads(self.blueprint_json),
            "blueprint_sha256": hashlib.sha256(canonical.encode()).hexdigest(),
            "training_config": self.config,
            "metrics": self.metrics,
            "precision": {"export": "float32", "training": self.trained_policy},
            "class_names": self.config.get("class_names") or self.config.get("data", {}).get("class_names"),
            "input": {"height": self.input_shape[0], "width": self.input_shape[1],
                      "channels": self.input_shape[2],
                      "accepts": "uint8 0..255 or float32 0..1 images, any batch size and size"},
        }


def load_run(path: str) -> Run:
    """A run directory written by ``builder train``."""
    model_path = os.path.join(path, MODEL)
    if not os.path.isdir(path):
        raise UserError(f"{path}: no such run directory")
    if not os.path.isfile(model_path):
        raise UserError(f"{path}: not a run directory (no model.keras)")

    def read_json(name):
        p = os.path.join(path, name)
        if not os.path.isfile(p):
            return {}
        try:
            with open(p, encoding="utf-8") as f:
                return json.load(f)
        except (OSError, json.JSONDecodeError) as e:
            raise UserError(f"{p}: cannot read: {e}") from None

    model = load_model_file(model_path)
    blueprint = json.dumps(read_json(BLUEPRINT))
    policy = _training_policy(model)
    deployable = model if policy == "float32" else _float32_model(model, blueprint, path)
    return Run(path, deployable, blueprint, read_json(CONFIG), read_json(METRICS),
               trained_policy=policy, trained_model=model if deployable is not model else None)


def _training_policy(model) -> str:
    """The dtype policy a model was built under (its output layers stay float32 under
    every policy, so the other layers tell)."""
    reduced = sorted({layer.dtype_policy.name for layer in model.layers} - {"float32"})
    return reduced[0] if reduced else "float32"


def _float32_model(model, blueprint_json: str, path: str):
    """The run's network built again under the float32 policy, with its trained weights."""
    import keras

    if blueprint_json == "{}":
        raise UserError(f"{path}: the model trained in mixed precision and the run has no "
                        f"blueprint.json to build its float32 form from")
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy("float32")
    try:
        rebuilt = build(from_json(blueprint_json))
    finally:
        keras.config.set_dtype_policy(previous)
    rebuilt.set_weights(model.get_weights())
    return rebuilt


def _main_output(model):
    return model.outputs[0] if len(model.outputs) > 1 else model.output


def serving_model(model, dtype: str):
    """Raw images of ``dtype`` -> probabilities: resize and scale inside the model."""
    import keras

    height, width, channels = model.inputs[0].shape[1:]
    core = keras.Model(model.inputs, _main_output(model), name="classifier")
    images = keras.Input((None, None, channels), dtype=dtype, name="images")
    x = keras.layers.Resizing(height, width, interpolation="bilinear", name="resize")(images)
    if dtype == "uint8":
        x = keras.layers.Rescaling(1.0 / 255, name="scale")(x)
    return keras.Model(images, core(x), name=f"serving_{dtype}")


def _check_images(run, batch=3, seed=0):
    h, w, c = run.input_shape
    rng = np.random.default_rng(seed)
    raw = rng.integers(0, 256, (batch, h, w, c), dtype=np.uint8)
    return raw, raw.astype("float32") / 255.0


def _compare(fmt, got, want, label) -> float:
    got = np.asarray(got, dtype="float32")
    diff = float(np.max(np.abs(got - np.asarray(want, dtype="float32"))))
    if not np.isfinite(diff) or diff > TOLERANCE[fmt]:
        raise ExportError(f"{fmt} export differs from the Keras model on {label} images: "
                          f"max |diff| {diff:.3g} > {TOLERANCE[fmt]:g}")
    return diff


# --- the formats: write(run, path) and verify(run, path) -> [(label, diff)] --------------------


def _write_saved_model(run, path):
    import keras
    import tensorflow as tf

    archive = keras.export.ExportArchive()
    models = {dtype: serving_model(run.model, dtype) for dtype in ("uint8", "float32")}
    for m in models.values():
        archive.track(m)
    channels = run.input_shape[2]
    archive.add_endpoint("serving_default", lambda images: models["uint8"](images, training=False),
                         input_signature=[tf.TensorSpec((None, None, None, channels), tf.uint8, name="images")])
    archive.add_endpoint("serving_float", lambda images: models["float32"](images, training=False),
                         input_signature=[tf.TensorSpec((None, None, None, channels), tf.float32, name="images")])
    archive.write_out(path, verbose=False)
    with open(os.path.join(path, METADATA), "w", encoding="utf-8") as f:
        json.dump(run.metadata(), f, indent=2)


def _verify_saved_model(run, path, reference):
    import tensorflow as tf

    loaded = tf.saved_model.load(path)
    raw, scaled = _check_images(run)
    results = []
    for name, x in (("serving_default", raw), ("serving_float", scaled)):
        out = loaded.signatures[name](images=tf.constant(x))
        results.append((f"{name} ({x.dtype})", _compare("saved_model", list(out.values())[0], reference, name)))
    one = loaded.signatures["serving_default"](images=tf.constant(raw[:1]))
    results.append(("batch of 1", _compare("saved_model", list(one.values())[0], reference[:1], "1")))
    return results


def _write_keras(run, path):
    serving_model(run.model, "uint8").save(path)
    with zipfile.ZipFile(path, "a") as archive:  # Keras's loader ignores other members
        archive.writestr(METADATA, json.dumps(run.metadata(), indent=2))


def _verify_keras(run, path, reference):
    import keras

    loaded = keras.saving.load_model(path, compile=False)
    raw, _ = _check_images(run)
    with zipfile.ZipFile(path) as archive:
        json.loads(archive.read(METADATA))
    return [("uint8", _compare("keras", loaded(raw), reference, "uint8"))]


def _need(module, extra):
    try:
        with warnings.catch_warnings():  # tf2onnx's numpy deprecations are not the user's
            warnings.simplefilter("ignore", FutureWarning)
            warnings.simplefilter("ignore", DeprecationWarning)
            return __import__(module)
    except ImportError:
        raise UserError(f"this export needs the '{extra}' extra: pip install -e '.[{extra}]' "
                        f"(the {module} package is missing)") from None


def _write_onnx(run, path):
    _need("tf2onnx", "onnx")
    onnx = _need("onnx", "onnx")
    model = serving_model(run.model, "uint8")
    model(_check_images(run, batch=1)[0])  # Keras exports only a model that has been called
    model.export(path, format="onnx", verbose=False)
    proto = onnx.load(path)
    for key, value in (("builder", json.dumps(run.metadata())),):
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.save(proto, path)


def _verify_onnx(run, path, reference):
    ort = _need("onnxruntime", "onnx")
    session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    raw, _ = _check_images(run)
    name = session.get_inputs()[0].name
    results = [("uint8 (onnxruntime)", _compare("onnx", session.run(None, {name: raw})[0], reference, "uint8"))]
    results.append(("batch of 1", _compare("onnx", session.run(None, {name: raw[:1]})[0], reference[:1], "1")))
    return results


def _write_tflite(run, path):
    import tensorflow as tf

    with tempfile.TemporaryDirectory() as tmp:
        # TFLite gets the image size fixed (the batch stays free): the interpreter's
        # resize is then the identity, as in the other formats at this size.
        h, w, c = run.input_shape
        archive_dir = os.path.join(tmp, "saved_model")
        import keras

        model = serving_model(run.model, "uint8")
        archive = keras.export.ExportArchive()
        archive.track(model)
        archive.add_endpoint("serving_default", lambda images: model(images, training=False),
                             input_signature=[tf.TensorSpec((None, h, w, c), tf.uint8, name="images")])
        archive.write_out(archive_dir, verbose=False)
        converter = tf.lite.TFLiteConverter.from_saved_model(archive_dir)
        with open(path, "wb") as f:
            f.write(converter.convert())
    with open(path + ".json", "w", encoding="utf-8") as f:
        json.dump(run.metadata(), f, indent=2)


def _verify_tflite(run, path, reference):
    import tensorflow as tf

    raw, _ = _check_images(run)
    with warnings.catch_warnings():  # TF 2.21 still ships it; LiteRT is a separate package
        warnings.simplefilter("ignore")
        interpreter = tf.lite.Interpreter(model_path=path)
    detail = interpreter.get_input_details()[0]
    interpreter.resize_tensor_input(detail["index"], raw.shape)
    interpreter.allocate_tensors()
    interpreter.set_tensor(detail["index"], raw)
    interpreter.invoke()
    out = interpreter.get_tensor(interpreter.get_output_details()[0]["index"])
    return [("uint8 (TFLite interpreter)", _compare("tflite", out, reference, "uint8"))]


WRITERS = {
    "saved_model": (_write_saved_model, _verify_saved_model),
    "keras": (_write_keras, _verify_keras),
    "onnx": (_write_onnx, _verify_onnx),
    "tflite": (_write_tflite, _verify_tflite),
}


def default_extension(fmt: str) -> str:
    return {"saved_model": "", "keras": ".keras", "onnx": ".onnx", "tflite": ".tflite"}[fmt]


def export(run_dir: str, fmt: str, out: str, force: bool = False) -> list[tuple[str, float]]:
    """Export the run at ``run_dir`` to ``out``; returns the verification figures
    (what was compared, max |difference|)."""
    if fmt not in FORMATS:
        raise ArgumentError(f"format={fmt!r}: use one of {', '.join(FORMATS)}",
                            arguments=("format",))
    ext = default_extension(fmt)
    if ext and not out.endswith(ext):
        raise ArgumentError(f"out={out!r}: a {fmt} export is a file ending in {ext}",
                            arguments=("out",))
    parent = os.path.dirname(os.path.abspath(out))
    if not os.path.isdir(parent) or not os.access(parent, os.W_OK):
        raise ArgumentError(f"out={out!r}: cannot write in {parent}", arguments=("out",))
    if os.path.exists(out) and not force:
        raise ArgumentError(f"out={out!r} exists; pass force=True to replace it",
                            arguments=("out", "force"))
    if fmt in ("onnx",):
        _need("tf2onnx", "onnx")
        _need("onnxruntime", "onnx")
    run = load_run(run_dir)
    write, verify = WRITERS[fmt]
    raw, _ = _check_images(run)
    reference = np.asarray(serving_model(run.model, "uint8")(raw, training=False))
    if run.trained_model is not None:
        # For information: how far float32 inference is from the model as trained.
        trained = serving_model(run.trained_model, "uint8")(raw, training=False)
        drift = float(np.max(np.abs(np.asarray(trained, "float32") - reference)))

    staging = _staging(out, parent)
    try:
        target = os.path.join(staging, os.path.basename(out) if ext else "export")
        with writing(out):
            write(run, target)
        results = verify(run, target, reference)
        _move_into_place(target, out, sidecar=fmt == "tflite")
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    if run.trained_model is not None:
        results.append((f"float32 export vs the {run.trained_policy} model as trained "
                        f"(information, not checked)", drift))
    return results


def _staging(out: str, parent: str) -> str:
    """A new hidden folder beside ``out`` to write the export in, named with this
    process's id. Those of earlier exports of the same target whose process is gone (a
    killed export) are removed first; a running export's is left alone."""
    base = os.path.basename(out)
    _remove_stale(parent, f".{base}.partial-")
    return tempfile.mkdtemp(prefix=f".{base}.partial-{os.getpid()}-", dir=parent)


def _remove_stale(parent: str, prefix: str) -> None:
    """Remove ``parent``'s entries named PREFIX + PID + rest whose process has ended."""
    for name in os.listdir(parent):
        pid = name[len(prefix):].partition("-")[0] if name.startswith(prefix) else ""
        if pid.isdigit() and not _running(int(pid)):
            path = os.path.join(parent, name)
            shutil.rmtree(path, ignore_errors=True) if os.path.isdir(path) else os.remove(path)


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def _move_into_place(src, dst, sidecar=False):
    """Replace ``dst`` by ``src`` (same file system) with as short a gap as possible."""
    old = None
    if os.path.exists(dst):
        old = f"{dst}.old-{os.getpid()}"
        os.replace(dst, old)
    os.replace(src, dst)
    if sidecar:
        os.replace(src + ".json", dst + ".json")
    if old:
        shutil.rmtree(old) if os.path.isdir(old) else os.remove(old)
    # An export killed between the two renames above left its ``dst.old-PID``.
    _remove_stale(os.path.dirname(os.path.abspath(dst)), f"{os.path.basename(dst)}.old-")
