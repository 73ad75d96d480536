"""Harvest's HTTP API (FastAPI): search, documents, sources, runs, health. The React UI uses it."""
