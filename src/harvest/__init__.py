"""Harvest: turn the web into searchable, ML-ready data and trained models."""

__version__ = "0.1.0"
