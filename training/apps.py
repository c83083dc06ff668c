from django.apps import AppConfig


class TrainingConfig(AppConfig):
    name = "training"

    def ready(self):
        from training import runner  # noqa: F401 - declares the training run's work (core.jobs.kinds)
