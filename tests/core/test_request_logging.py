"""What the terminal shows for a refused request: one line, no traceback — printed once, not twice. A server
error keeps its traceback."""
import io
import logging

import pytest

from core.log import ClientErrorsWithoutTraceback

pytestmark = pytest.mark.django_db


@pytest.fixture
def terminal():
    """What the configured console handlers (config/settings.py LOGGING) print, as one string."""
    handlers = [handler for logger in (logging.getLogger(), logging.getLogger("django"), logging.getLogger("django.request"))
                for handler in logger.handlers if isinstance(handler, logging.StreamHandler)
                and not type(handler).__module__.startswith("_pytest")]
    assert handlers, "no console handler configured"
    buffer = io.StringIO()
    previous = [handler.setStream(buffer) for handler in handlers]
    yield buffer
    for handler, stream in zip(handlers, previous):
        handler.setStream(stream)


def test_a_403_page_logs_one_line_and_no_traceback(client_of, charlie, terminal):
    assert client_of(charlie).get("/imports/").status_code == 403

    lines = terminal.getvalue().splitlines()
    assert len(lines) == 1 and "Forbidden" in lines[0] and "/imports/" in lines[0]
    assert "Traceback" not in terminal.getvalue()


def test_a_403_from_the_api_logs_one_line_too(client_of, bob, terminal):
    assert client_of(bob).post("/api/imports/", {"kind": "jsonl", "path": "/nowhere.jsonl"}).status_code == 403

    lines = terminal.getvalue().splitlines()
    assert len(lines) == 1 and "Forbidden" in lines[0] and "Traceback" not in terminal.getvalue()


def test_a_server_error_keeps_its_traceback():
    record = logging.LogRecord("django.request", logging.ERROR, __file__, 1, "Internal Server Error: /x/", (), None)
    try:
        raise RuntimeError("a bug")
    except RuntimeError:
        import sys

        record.exc_info = sys.exc_info()
    record.status_code = 500
    assert ClientErrorsWithoutTraceback().filter(record) and record.exc_info is not None
    record.status_code = 403
    assert ClientErrorsWithoutTraceback().filter(record) and record.exc_info is None
