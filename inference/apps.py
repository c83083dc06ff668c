from django.apps import AppConfig


class InferenceConfig(AppConfig):
    name = "inference"

    def ready(self):
        from inference import runner  # noqa: F401 - declares the generation run's work (core.jobs.kinds)
