"""The Celery app. Queues: `default` (imports, exports, analysis) and `gpu` (training, generation)."""
import os

from celery import Celery
from kombu import Queue

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("lima_studio")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.conf.task_queues = [Queue("default"), Queue("gpu")]
app.autodiscover_tasks()


def ensure_broker_folders():
    """The filesystem broker needs its folders before the first message is written."""
    from django.conf import settings

    for key in ("data_folder_in", "data_folder_out", "processed_folder", "control_folder"):
        folder = settings.CELERY_BROKER_TRANSPORT_OPTIONS.get(key)
        if folder:
            os.makedirs(folder, exist_ok=True)
    if settings.CELERY_RESULT_BACKEND.startswith("file://"):
        os.makedirs(settings.CELERY_RESULT_BACKEND[len("file://"):], exist_ok=True)
