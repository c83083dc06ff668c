"""Serving a checkpoint over an OpenAI-compatible API (`manage.py serve`): requests.py reads a request into
LIMA's decoding (pure), batcher.py answers concurrent requests together, app.py is the Starlette app that
uvicorn runs."""
