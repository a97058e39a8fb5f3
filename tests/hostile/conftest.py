"""The knowledge fixtures (one embedding model per run, a fresh KnowledgeBase per test)."""

from tests.knowledge.conftest import embedder, kb, settings  # noqa: F401
