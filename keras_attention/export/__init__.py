"""SavedModel export (text in, text out) and a local TF-Serving-compatible REST server."""

from keras_attention.export.saved_model import export_run, export_task
from keras_attention.export.server import ModelServer, serve

__all__ = ["ModelServer", "export_run", "export_task", "serve"]
