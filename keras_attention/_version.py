"""The installed version (one place: the package, its exports and model cards read it)."""

__version__ = "0.1.0"
