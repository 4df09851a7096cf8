"""Engine tests: every kernel against its slow twin in ``tests/reference.py``."""
