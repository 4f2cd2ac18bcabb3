"""builder: describe a network as blueprints, analyze it, build it with Keras.

    import builder
    bp = builder.load("lenet5")
    print(builder.analyze(bp).total_params)
    model = builder.build(bp)
    smaller = builder.edit(bp, {"c5/conv.filters": 100})   # a checked copy

Importing builder does not import Keras: analysis is pure Python.
"""

from . import registry
from .analysis import Report, analyze
from .compiler import build
from .dsl import *  # noqa: F401,F403  (the blueprint language)
from .dsl import concrete
from .edit import edit, parse_sets
from .errors import ArgumentError, BlueprintError, DataError, UserError
from .graph import lower
from .loader import load, with_options
from .serialize import from_dict, from_json, to_json
from .version import __version__
from .weights import transfer_weights


