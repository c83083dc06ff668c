from core.people import admin  # noqa: F401
