from django.apps import AppConfig


class InferenceConfig(AppConfig):
    name = "inference"

    def ready(self):
        from inference import (  # noqa: F401 - declare the generation and draft runs' work (core.jobs.kinds)
            drafts,
            runner,
        )
        from inference.endpoints import server_job  # noqa: F401 - the model-server job's work
        from inference.judging import runner as judging  # noqa: F401 - the judge run's work
