"""The playground's model cache: loaded Generators kept per web process, a few at most.

Loading a checkpoint costs seconds (a real model: much more), so each process keeps the last
PLAYGROUND_MODELS it served. A lock per checkpoint folder keeps two requests from loading the same
model twice; one generation at a time per model (torch's generate is not meant to share a model
between threads).
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterator
from pathlib import Path

from django.conf import settings

KEEP = getattr(settings, "PLAYGROUND_MODELS", 2)

_cache: OrderedDict[str, object] = OrderedDict()
_cache_lock = threading.Lock()
_model_locks: dict[str, threading.Lock] = {}


def _lock_for(key: str) -> threading.Lock:
    with _cache_lock:
        return _model_locks.setdefault(key, threading.Lock())


def get_generator(folder):
    """The Generator of a checkpoint folder, loaded once per process (least recently used dropped)."""
    from inference.engine.generate import Generator

    key = str(Path(folder).resolve())
    with _cache_lock:
        if key in _cache:
            _cache.move_to_end(key)
            return _cache[key]
    with _lock_for(key):
        with _cache_lock:
            if key in _cache:
                return _cache[key]
        generator = Generator.from_checkpoint(key)
        with _cache_lock:
            _cache[key] = generator
            while len(_cache) > KEEP:
                _cache.popitem(last=False)
        return generator


def is_loaded(folder) -> bool:
    with _cache_lock:
        return str(Path(folder).resolve()) in _cache


def stream_reply(folder, turns: list[str], settings, seed=None) -> Iterator[str]:
    """Text pieces of the model's reply to `turns` as they are generated. Closing the iterator (the
    browser went away) stops the generation at its next token."""
    generator = get_generator(folder)
    busy = _lock_for(f"generate:{generator.name}:{id(generator)}")
    with busy:
        yield from generator.stream(turns, settings, seed=seed)
