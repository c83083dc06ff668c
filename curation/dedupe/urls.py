"""Pages of duplicates: the clusters, one cluster, an ad-hoc group, a pass, the resolve action."""
from django.urls import path

from curation.dedupe import views

urlpatterns = [
    path("duplicates/", views.duplicates_page, name="curation-duplicates"),
    path("duplicates/<int:pk>/", views.duplicate_cluster, name="curation-duplicate-cluster"),
    path("duplicates/group/", views.duplicate_group, name="curation-duplicate-group"),
    path("duplicates/run/", views.duplicates_run, name="curation-duplicates-run"),
    path("duplicates/resolve/", views.duplicates_resolve, name="curation-duplicates-resolve"),
]
