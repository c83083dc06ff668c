"""Figures many requests share (a queue's size, the filter lists), kept a few seconds in Django's cache.

The cache only saves work: when it is down (Redis stopped, a timeout) the value is computed as if it were not
there, and the page answers as usual.
"""
import hashlib
import logging

from django.core.cache import cache
from django.db import connection

log = logging.getLogger(__name__)
MISSING = object()


def _key(name):
    # The database's name keeps a test database's figures apart from the development database's.
    # Hashed: names may hold any character (a filter's value), which some cache backends refuse.
    return "lima:" + hashlib.sha256(f"{connection.settings_dict.get('NAME')}\0{name}".encode()).hexdigest()


def get(name, default=None):
    try:
        return cache.get(_key(name), default)
    except Exception as error:  # noqa: BLE001 - any cache failure means "not cached"
        log.warning("cache unavailable, computing %s: %s", name, type(error).__name__)
        return default


def put(name, value, seconds):
    try:
        cache.set(_key(name), value, seconds)
    except Exception as error:  # noqa: BLE001
        log.warning("cache unavailable, %s not kept: %s", name, type(error).__name__)


def cached(name, seconds, compute):
    """compute()'s value, shared by every process for `seconds` (computed again when the cache is down)."""
    value = get(name, MISSING)
    if value is MISSING:
        value = compute()
        put(name, value, seconds)
    return value
