from django.apps import AppConfig


class CurationConfig(AppConfig):
    name = "curation"
    verbose_name = "Curation"

    def ready(self):
        # The kinds of long work declared by curation (core.jobs.kinds).
        from curation.datasets import export_jobs, freeze_jobs  # noqa: F401
        from curation.dedupe import jobs, tasks  # noqa: F401 - and its beat task
        from curation.imports import ingest  # noqa: F401
        from curation.workspace import bulk  # noqa: F401
