"""Semantic neighbours and quality signals of examples: embeddings, scores per revision, sharded runs."""
