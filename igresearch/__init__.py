"""igresearch: Instagram video metadata for research."""

__version__ = "0.1.0"
