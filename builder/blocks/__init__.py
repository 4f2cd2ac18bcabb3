"""Reusable composite blocks (conv units, Inception, residual, MBConv, dense blocks ...).

Each block is a blueprint whose ``expand(input_shape)`` returns simpler blueprints. Every
module of this package is imported here, so its block types are known to JSON, and the
names in its ``__all__`` are exported: ``from builder.blocks import ConvBN``.
"""

import importlib
import pkgutil

__all__ = []
for _info in pkgutil.iter_modules(__path__):
    _module = importlib.import_module(f"{__name__}.{_info.name}")
    for _name in getattr(_module, "__all__", ()):
        globals()[_name] = getattr(_module, _name)
        __all__.append(_name)
