"""Search over documents and chunks: vector (pgvector HNSW), keyword (PostgreSQL full text), hybrid (RRF),
and similar documents."""
