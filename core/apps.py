from django.apps import AppConfig


class CoreConfig(AppConfig):
    """Shared infrastructure of the studio's apps: the job lifecycle, roles, charts, Markdown rendering.
    It knows no domain: curation, training and inference use it; it imports none of them."""

    name = "core"
    verbose_name = "LIMA Studio core"
