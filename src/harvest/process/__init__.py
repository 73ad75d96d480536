"""Process stage: raw page versions → documents (clean text + metadata), duplicates, and chunks."""
