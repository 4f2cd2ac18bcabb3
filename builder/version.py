"""The version of builder (recorded in every run's config.json)."""

__version__ = "0.1.0"
