from django.urls import path

from . import urls_datasets, urls_imports, urls_workspace, views

urlpatterns = [
    path("healthz/", views.healthz, name="healthz"),
    *urls_workspace.urlpatterns,
    *urls_datasets.urlpatterns,
    *urls_imports.urlpatterns,
]
