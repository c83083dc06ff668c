from django.apps import AppConfig


class CurationConfig(AppConfig):
    name = "curation"
    verbose_name = "Curation"

    def ready(self):
        # The serverless broker shares folders between the web process and the worker; both create them.
        from config.celery import ensure_broker_folders

        ensure_broker_folders()
        # The kinds of long work declared by curation (core.jobs.kinds).
        from curation.datasets import export_jobs, freeze_jobs  # noqa: F401
        from curation.imports import ingest  # noqa: F401
        from curation.workspace import bulk  # noqa: F401
