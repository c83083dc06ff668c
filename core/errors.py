"""Domain errors that every edge answers the same way (the API's exception handler in core.api)."""


class ConflictError(Exception):
    """Refused because of what someone else did first (a newer version, a taken id): the API answers 409 with
    the message as its reason. Services raise subclasses that name the conflict."""
