"""Logging of the web process: a refused or missing page is one line, not a traceback.

Django logs every 4xx raised as an exception (PermissionDenied, Http404) on `django.request` with the
exception attached, and its default config prints it on a handler of its own *and* lets it reach ours —
the same traceback twice for an ordinary "you may not". A 5xx keeps its traceback: that one is a bug.
"""
import logging


class ClientErrorsWithoutTraceback(logging.Filter):
    """Drops the traceback of a record about a 4xx response (django.request sets `status_code`)."""

    def filter(self, record):
        status = getattr(record, "status_code", None)
        if isinstance(status, int) and 400 <= status < 500:
            record.exc_info = None
            record.exc_text = None
        return True
