"""Duplicates: exact (normalised prompt or response) and near (MinHash LSH over prompts and over responses)."""
