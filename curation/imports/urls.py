"""Pages of imports: runs with live progress, upload form, rejected records and rescue."""
from django.urls import path

from curation.imports import views as import_views

urlpatterns = [
    path("imports/", import_views.import_list, name="curation-imports"),
    path("imports/runs/", import_views.import_runs, name="curation-import-runs"),
    path("imports/<int:pk>/", import_views.import_detail, name="curation-import"),
    path("imports/<int:pk>/status/", import_views.import_status, name="curation-import-status"),
    path("imports/<int:pk>/rerun/", import_views.rerun, name="curation-import-rerun"),
    path("imports/<int:pk>/rejected/<int:record_pk>/rescue/", import_views.rescue, name="curation-import-rescue"),
]
