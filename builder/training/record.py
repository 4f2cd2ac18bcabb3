"""What a run records about itself: config.json (how it was made) and the versions."""

from __future__ import annotations

import platform
import sys
import time

import numpy

from ..version import __version__


def config_record(plan, session) -> dict:
    """config.json of a run: a new one, or the saved one with this resumption added."""
    import keras

    now = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    options = plan.options.to_dict()
    if plan.resumed is not None:
        config = dict(plan.resumed.config, options=options)
        config["resumed"] = config.get("resumed", []) + [
            {"after_epoch": plan.resumed.state.epochs_completed, "at": now,
             "versions": versions()}]
        return config
    data, bp = plan.data, plan.blueprint
    return {
        "spec": bp.name, "blueprint": bp.name, "options": options, "edits": plan.edits,
        "input_shape": list(plan.report.input_shape), "classes": plan.classes,
        "class_names": list(data.class_names),
        "data": {"source": data.source, "num_train": data.num_train,
                 "num_validation": data.num_validation, "num_test": data.num_test,
                 "class_counts": [int(c) for c in data.class_counts],
                 "pipeline": data.pipeline, "left_out_for_sharding": session.left_out,
                 "cache": data.cache.record(), "unreadable_at_start": len(data.unreadable)},
        "transform": data.transform,
        "precision": session.precision,
        "distribution": {**session.placement.describe(), "global_batch": plan.options.batch_size,
                         "batch_per_process": plan.options.batch_size
                         // session.placement.cluster.processes},
        "frozen_layers": session.frozen, "notes": list(plan.notes),
        "versions": versions(), "backend": keras.backend.backend(),
        "command": sys.argv, "created": now,
        "outputs": list(plan.graph.outputs), "loss_weights": list(plan.graph.loss_weights),
        "parameters": plan.report.total_params,
    }


def versions() -> dict:
    import keras

    found = {"python": platform.python_version(), "keras": keras.__version__,
             "numpy": numpy.__version__, "builder": __version__}
    try:
        import tensorflow as tf

        found["tensorflow"] = tf.__version__
    except ImportError:
        pass
    return found
