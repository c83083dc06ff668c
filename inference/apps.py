from django.apps import AppConfig


class InferenceConfig(AppConfig):
    name = "inference"

    def ready(self):
        from inference import (  # noqa: F401 - declare the generation and draft runs' work (core.jobs.kinds)
            drafts,
            runner,
        )
