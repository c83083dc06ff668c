"""Celery tasks of curation, on the `default` queue. Each loads its row and calls a service."""
import socket

from celery import shared_task


@shared_task(name="curation.ping")
def ping():
    """A round trip through the broker, a worker and the database: used by health checks and tests."""
    from .models import Example

    return {"pong": True, "worker": socket.gethostname(), "examples": Example.objects.count()}
