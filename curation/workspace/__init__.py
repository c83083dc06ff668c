"""The annotators' workspace: writing, the review queue, an example's history and the dashboard (views and
their small pure helpers)."""
