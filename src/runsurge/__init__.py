"""RunSurge: run Python `process(input_data) -> dict` functions on contributed machines."""

__version__ = "0.1.0"
