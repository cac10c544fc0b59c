"""Datasets: vocabularies, the panoptic format, region predictions, generators and converters."""
