"""The canonical networks, one module per family, each variant registered by name."""
