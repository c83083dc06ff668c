from django.apps import AppConfig


class CoreConfig(AppConfig):
    """Shared infrastructure of the studio's apps: the job lifecycle, roles and people, charts, Markdown rendering.
    It knows no domain: curation, training and inference use it; it imports none of them."""

    name = "core"
    verbose_name = "LIMA Studio core"

    def ready(self):
        # The serverless broker shares folders between the web process and the worker; both create them.
        from core.broker import ensure_broker_folders
        from core.people import signals  # noqa: F401  (connects the token revocations)

        ensure_broker_folders()
