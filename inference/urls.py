"""Pages of inference: generation runs, studies (results and the blind labelling page), the playground."""
from django.urls import path

from inference import views
from inference.endpoints import views as endpoints
from inference.judging import views as judging

urlpatterns = [
    path("generations/", views.generation_list, name="inference-generations"),
    path("generations/runs/", views.generation_runs, name="inference-generation-runs"),
    path("generations/<int:pk>/", views.generation_detail, name="inference-generation"),
    path("generations/<int:pk>/resume/", views.generation_resume, name="inference-generation-resume"),
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
    path("studies/<int:pk>/judge/", judging.judge_start, name="inference-judge-start"),
    path("studies/<int:pk>/judge/<int:run_pk>/again/", judging.judge_resume, name="inference-judge-resume"),
    path("studies/<int:pk>/judge/<int:run_pk>/results.json", judging.judge_json, name="inference-judge-json"),
    path("studies/<int:pk>/judge/<int:run_pk>/verdicts.csv", judging.judge_csv, name="inference-judge-csv"),
    path("studies/<int:pk>/annotate/", views.study_annotate, name="inference-study-annotate"),
    path("studies/<int:pk>/items/<int:position>/", views.study_item, name="inference-study-item"),
    path("studies/<int:pk>/items/<int:position>/step/", views.study_step, name="inference-study-step"),
    path("endpoints/", endpoints.endpoint_list, name="inference-endpoints"),
    path("endpoints/<int:pk>/", endpoints.endpoint_edit, name="inference-endpoint"),
    path("endpoints/<int:pk>/delete/", endpoints.endpoint_delete, name="inference-endpoint-delete"),
    path("endpoints/<int:pk>/test/", endpoints.endpoint_test, name="inference-endpoint-test"),
    path("endpoints/servers/", endpoints.server_rows, name="inference-servers"),
    path("endpoints/servers/start/", endpoints.server_start, name="inference-server-start"),
    path("endpoints/servers/<int:pk>/stop/", endpoints.server_stop, name="inference-server-stop"),
    path("playground/", views.playground_page, name="inference-playground"),
    path("playground/stream/", views.playground_stream, name="inference-playground-stream"),
]
