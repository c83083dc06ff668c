"""Pages of dataset versions: list and freeze, detail with manifest and exports, diff."""
from django.urls import path

from curation.datasets import views as dataset_views

urlpatterns = [
    path("datasets/", dataset_views.dataset_list, name="curation-datasets"),
    path("datasets/check/", dataset_views.dataset_check, name="curation-datasets-check"),
    path("datasets/freeze/", dataset_views.dataset_freeze, name="curation-datasets-freeze"),
    path("datasets/freeze-jobs/", dataset_views.dataset_freeze_jobs, name="curation-datasets-freeze-jobs"),
    path("datasets/<int:pk>/", dataset_views.dataset_detail, name="curation-dataset"),
    path("datasets/<int:pk>/exports/", dataset_views.dataset_exports, name="curation-dataset-exports"),
    path("datasets/<int:pk>/compare/", dataset_views.dataset_compare, name="curation-dataset-compare"),
    path("datasets/<int:pk>/diff/<int:other>/", dataset_views.dataset_diff, name="curation-dataset-diff"),
]
