"""The Celery app. Queues: `default` (imports, exports, analysis) and `gpu` (training, generation)."""
import os

from celery import Celery
from kombu import Queue

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("lima_studio")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.conf.task_queues = [Queue("default"), Queue("gpu")]
app.autodiscover_tasks()
