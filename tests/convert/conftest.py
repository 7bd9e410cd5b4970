import pytest

pytest.importorskip("keras_hub")
pytest.importorskip("safetensors")
