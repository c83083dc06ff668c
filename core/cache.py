"""The cache is an optimisation: when Redis is down or slow, every read is a miss and every write is dropped,
so pages compute what they would have read (CACHES["default"] when REDIS_URL is set)."""
import logging
import time

from django.core.cache.backends.redis import RedisCache

logger = logging.getLogger(__name__)
_last_warning = [0.0]


def _warn(operation, error):
    now = time.monotonic()
    if now - _last_warning[0] > 60:  # once a minute, not once a request
        _last_warning[0] = now
        logger.warning("cache %s failed, computing instead: %s: %s", operation, type(error).__name__, error)


class DegradingRedisCache(RedisCache):
    def get(self, key, default=None, version=None):
        try:
            return super().get(key, default, version)
        except Exception as error:  # redis-py's ConnectionError, TimeoutError, ResponseError...
            _warn("get", error)
            return default

    def get_many(self, keys, version=None):
        try:
            return super().get_many(keys, version)
        except Exception as error:
            _warn("get_many", error)
            return {}

    def has_key(self, key, version=None):
        try:
            return super().has_key(key, version)
        except Exception as error:
            _warn("has_key", error)
            return False

    def set(self, key, value, timeout=..., version=None):
        try:
            kwargs = {} if timeout is ... else {"timeout": timeout}
            return super().set(key, value, version=version, **kwargs)
        except Exception as error:
            _warn("set", error)

    def set_many(self, data, timeout=..., version=None):
        try:
            kwargs = {} if timeout is ... else {"timeout": timeout}
            return super().set_many(data, version=version, **kwargs)
        except Exception as error:
            _warn("set_many", error)
            return list(data)

    def add(self, key, value, timeout=..., version=None):
        try:
            kwargs = {} if timeout is ... else {"timeout": timeout}
            return super().add(key, value, version=version, **kwargs)
        except Exception as error:
            _warn("add", error)
            return False

    def touch(self, key, timeout=..., version=None):
        try:
            kwargs = {} if timeout is ... else {"timeout": timeout}
            return super().touch(key, version=version, **kwargs)
        except Exception as error:
            _warn("touch", error)
            return False

    def delete(self, key, version=None):
        try:
            return super().delete(key, version)
        except Exception as error:
            _warn("delete", error)
            return False

    def delete_many(self, keys, version=None):
        try:
            return super().delete_many(keys, version)
        except Exception as error:
            _warn("delete_many", error)

    def clear(self):
        try:
            return super().clear()
        except Exception as error:
            _warn("clear", error)
