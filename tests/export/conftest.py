"""The export tests use the tiny trained runs of tests/conftest.py (`trained`)."""
