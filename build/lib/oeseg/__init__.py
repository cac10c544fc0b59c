"""oeseg: the reproducible workflow of "Benchmarking Open-Ended Segmentation"."""

__version__ = "0.1.0"
