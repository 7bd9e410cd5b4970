"""SavedModel export (text in, text out) and a local TF-Serving-compatible REST server.

To export a finished run directory, use `keras_attention.runs.Run.load(path).export()`.
"""

from keras_attention.export.saved_model import export_task
from keras_attention.export.server import ModelServer, serve

__all__ = ["ModelServer", "export_task", "serve"]
