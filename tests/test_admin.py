"""Everything is in the Django admin, with list filters and search, and its pages open."""
import pytest
from django.apps import apps
from django.contrib import admin

# Rows that only make sense inside their parent's page (inlines) or that carry no user-facing data.
INLINED = {"curation.turn", "curation.datasetitem", "inference.studyrun", "inference.claim"}


def domain_models():
    for label in ("curation", "training", "inference"):
        for model in apps.get_app_config(label).get_models():
            yield model


def test_every_domain_model_is_in_the_admin_with_filters_and_search():
    missing = [m._meta.label_lower for m in domain_models()
               if m._meta.label_lower not in INLINED and m not in admin.site._registry]
    assert missing == []
    for model, model_admin in admin.site._registry.items():
        if model._meta.app_label in ("curation", "training", "inference"):
            assert model_admin.list_filter, f"{model._meta.label} has no list filter"
            assert model_admin.search_fields, f"{model._meta.label} has no search"


@pytest.mark.django_db
def test_the_admin_changelists_open_for_a_superuser(admin_client):
    for model in admin.site._registry:
        if model._meta.app_label in ("curation", "training", "inference"):
            url = f"/admin/{model._meta.app_label}/{model._meta.model_name}/"
            assert admin_client.get(url).status_code == 200, url
            assert admin_client.get(url, {"q": "x"}).status_code == 200, url
