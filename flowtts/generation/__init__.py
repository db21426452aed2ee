"""Generation: the step-wise frame generator (``generator.py``) used by the Python API and the server."""
