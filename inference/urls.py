"""Pages of inference: generation runs, studies (results and the blind labelling page), the playground."""
from django.urls import path

from inference import views

urlpatterns = [
    path("generations/", views.generation_list, name="inference-generations"),
    path("generations/runs/", views.generation_runs, name="inference-generation-runs"),
    path("generations/<int:pk>/", views.generation_detail, name="inference-generation"),
    path("generations/<int:pk>/status/", views.generation_status, name="inference-generation-status"),
    path("generations/drafts/", views.draft_list, name="inference-drafts"),
    path("generations/drafts/<int:pk>/", views.draft_detail, name="inference-draft"),
    path("studies/", views.study_list, name="inference-studies"),
    path("studies/new/", views.study_new, name="inference-study-new"),
    path("studies/<int:pk>/", views.study_detail, name="inference-study"),
    path("studies/<int:pk>/results.json", views.study_results_json, name="inference-study-json"),
    path("studies/<int:pk>/results.csv", views.study_results_csv, name="inference-study-csv"),
    path("studies/<int:pk>/open/", views.study_toggle, name="inference-study-toggle"),
    path("studies/<int:pk>/choose/", views.study_choose, name="inference-study-choose"),
    path("studies/<int:pk>/annotate/", views.study_annotate, name="inference-study-annotate"),
    path("studies/<int:pk>/items/<int:position>/", views.study_item, name="inference-study-item"),
    path("studies/<int:pk>/items/<int:position>/step/", views.study_step, name="inference-study-step"),
    path("playground/", views.playground_page, name="inference-playground"),
    path("playground/stream/", views.playground_stream, name="inference-playground-stream"),
]
