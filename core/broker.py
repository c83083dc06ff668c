"""The task queue's side that needs no Celery import: folders of the serverless broker, the broker's address."""
import os


def ensure_broker_folders():
    """The filesystem broker needs its folders before the first message is written."""
    from django.conf import settings

    for key in ("data_folder_in", "data_folder_out", "processed_folder", "control_folder"):
        folder = settings.CELERY_BROKER_TRANSPORT_OPTIONS.get(key)
        if folder:
            os.makedirs(folder, exist_ok=True)
    if settings.CELERY_RESULT_BACKEND.startswith("file://"):
        os.makedirs(settings.CELERY_RESULT_BACKEND[len("file://"):], exist_ok=True)


def broker_address() -> str:
    """The broker's URL without its password, for messages."""
    from celery import current_app
    from kombu.utils.url import maybe_sanitize_url

    return maybe_sanitize_url(current_app.conf.broker_url or "")
