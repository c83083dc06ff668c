from django.apps import AppConfig


class CurationConfig(AppConfig):
    name = "curation"
    verbose_name = "Curation"

    def ready(self):
        # The kinds of long work declared by curation (core.jobs.kinds).
        import curation.dedupe.jobs  # noqa: F401
        import curation.dedupe.tasks  # noqa: F401 - and its beat task
        import curation.proposals.jobs  # noqa: F401
        from curation.datasets import export_jobs, freeze_jobs  # noqa: F401
        from curation.imports import ingest, retention  # noqa: F401 - retention: its beat task
        from curation.signals import jobs  # noqa: F401
        from curation.workspace import bulk  # noqa: F401
