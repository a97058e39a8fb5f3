"""The knowledge engine: files -> chunks -> embeddings -> LanceDB -> retrieval.

Knows nothing of generation or the UI. Heavy imports (lancedb, torch) happen lazily.
"""
