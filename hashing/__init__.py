"""Cross-modal hashing: torch + numpy only. Retrieval metrics live in ``hashing.retrieval``."""
