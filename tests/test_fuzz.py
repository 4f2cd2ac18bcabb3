"""No input crashes or hangs builder (property-based, Hypothesis).

- Blueprints generated from the DSL's own field types (every registered type's
  annotations; values in and out of range, NaN, infinities, huge integers, markers,
  nesting): making one, its JSON, ``from_json`` and the analysis (with the report's JSON,
  table and diagram) either work or raise a ``UserError``, within a time bound per
  example and without a memory blow-up.
- The JSON of every registered blueprint, mutated (keys deleted, duplicated, values
  replaced, types swapped, huge numbers, deep nesting): the same.
- Small generated networks: when the analysis accepts one, Keras builds it with the
  same parameter count and output shapes, and runs it.

The default run takes about 700 examples (a minute). A large campaign runs the tests marked
slow with ``BUILDER_FUZZ_EXAMPLES`` examples each (default 1,000, about a minute in CI; the
campaign the project reports runs 10,000):

    BUILDER_FUZZ_EXAMPLES=10000 python -m pytest -m slow tests/test_fuzz.py
"""

import json
import os
from datetime import timedelta

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings

import builder
from builder.diagram import to_dot
from builder.dsl.combinators import Network
from builder.errors import UserError
from builder.summary import summary_text

from fuzzing import (Exhausted, Profile, bounded, dumps, input_shapes, make,
                     mutated_documents, recipes, small_networks, to_document)

# Per example: the slowest legitimate input analyzes up to builder.graph.MAX_EXPANDED
# blueprints (seconds); anything past these bounds is a hang or a blow-up.
SECONDS = 60
MEGABYTES = 1024
CAMPAIGN = int(os.environ.get("BUILDER_FUZZ_EXAMPLES", "1000"))


def fuzz_settings(examples: int):
    return settings(max_examples=examples, deadline=timedelta(seconds=30),
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
                    print_blob=True)


def exercise(bp, input_shape=None):
    """What ``summary``, ``plot`` and ``--json`` do with a blueprint."""
    report = builder.analyze(bp, input_shape=input_shape)
    json.dumps(report.to_dict(depth=2))
    summary_text(report)
    to_dot(report, depth=2)
    assert builder.from_json(bp.to_json()) == bp  # a valid blueprint round-trips
    return report


def check_generated(recipe, input_shape):
    with bounded(SECONDS, MEGABYTES):
        try:
            bp = make(recipe)
        except UserError:
            bp = None
        try:  # the same document through JSON: refused or made alike
            again = builder.from_json(dumps(to_document(recipe)))
        except UserError:
            again = None
        assert (bp is None) == (again is None), (bp, again)
        assert bp is None or again == bp
        if bp is None:
            event("refused when made")
            return
        try:
            exercise(bp, None if isinstance(bp, Network) else input_shape)
            event("analyzed")
        except UserError:
            event("refused by the analysis")


def check_document(text):
    with bounded(SECONDS, MEGABYTES):
        try:
            bp = builder.from_json(text, source="mutated.json")
        except UserError:
            event("refused when read")
            return
        try:
            exercise(bp)
            event("analyzed")
        except UserError:
            event("refused by the analysis")


def check_against_keras(recipe):
    import keras

    try:
        bp = make(recipe)
        report = builder.analyze(bp)
    except UserError:
        event("refused")
        return
    event("compared with Keras")
    keras.backend.clear_session()
    with bounded(SECONDS, 2 * MEGABYTES):
        model = builder.build(bp)
        assert model.count_params() == report.total_params
        assert [tuple(o.shape[1:]) for o in model.outputs] == report.output_shapes
        # Run it on an input of known size, one the analysis accepts as well (a Reshape
        # of unknown sizes fits some sizes only): then Keras must run it, with the
        # shapes of that analysis.
        known = tuple(6 if d is None else d for d in report.input_shape)
        try:
            report = builder.analyze(bp, input_shape=known)
        except UserError:
            event("refused for the size it runs on")
            return
        x = np.random.default_rng(0).random((2,) + known).astype("float32")
        outputs = model(x, training=False)
        outputs = outputs if isinstance(outputs, (list, tuple)) else [outputs]
        assert [tuple(y.shape[1:]) for y in outputs] == report.output_shapes


# --- the default run: a few hundred examples ------------------------------------------------


@fuzz_settings(400)
@given(recipes(), input_shapes())
def test_generated_blueprints_work_or_raise_user_errors(recipe, input_shape):
    check_generated(recipe, input_shape)


@fuzz_settings(250)
@given(mutated_documents())
def test_mutated_json_works_or_raises_user_errors(named_text):
    check_document(named_text[1])


@fuzz_settings(40)
@given(small_networks())
def test_small_networks_analysis_equals_keras(recipe):
    check_against_keras(recipe)


def test_the_guard_stops_a_hang_and_a_blow_up():
    with pytest.raises(Exhausted, match="ran past"):
        with bounded(0.2, MEGABYTES):
            while True:
                pass
    with pytest.raises(Exhausted, match="grew the process"):
        with bounded(SECONDS, 64):
            hoard = []
            while True:
                hoard.append(bytearray(2**20))


# --- the campaign -------------------------------------------------------------------------


@pytest.mark.slow
@fuzz_settings(CAMPAIGN)
@given(recipes(Profile(wild=3, markers=3, depth=4)), input_shapes())
def test_campaign_generated_blueprints(recipe, input_shape):
    check_generated(recipe, input_shape)


@pytest.mark.slow
@fuzz_settings(CAMPAIGN)
@given(mutated_documents())
def test_campaign_mutated_json(named_text):
    check_document(named_text[1])


@pytest.mark.slow
@fuzz_settings(max(CAMPAIGN // 10, 50))
@given(small_networks())
def test_campaign_small_networks_against_keras(recipe):
    check_against_keras(recipe)
