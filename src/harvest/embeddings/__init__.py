"""Embeddings: sentence-transformers models (PyTorch), the embeddings service and its client, and the
embed stage that keeps a pgvector vector per chunk and model."""
