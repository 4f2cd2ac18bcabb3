"""keras-tuner integration: search a blueprint's markers (``python -m builder tune``).

Modules, in pipeline order:

- ``space``: markers through keras-tuner's ``hp`` (conditional options included),
  ``TrainingSpace``, ``--hp`` parsing. Does not import keras-tuner.
- ``fitting``: the compile step of a trial (optimizer by name, learning rate).
- ``search``: the HyperModel (analysis before building, rejection by budget), the
  tuner and the four oracles. Imports keras-tuner.
- ``distributed``: chief/worker roles through keras-tuner's environment variables.
- ``report``: trials.csv, the table, frontier.png, best.json and best.py.
- ``sweep``: ``run_sweep``, the whole sweep as the command line runs it.

See docs/tuning.md.
"""
