from django.urls import path

from training import views

urlpatterns = [
    path("training/", views.run_list, name="training-runs"),
    path("training/new/", views.run_new, name="training-run-new"),
    path("training/mask-preview/", views.mask_preview, name="training-mask-preview"),
    path("training/batch-check/", views.batch_check, name="training-batch-check"),
    path("training/compare/", views.run_compare, name="training-compare"),
    path("training/<int:pk>/", views.run_detail, name="training-run"),
    path("training/<int:pk>/status/", views.run_status, name="training-run-status"),
    path("training/<int:pk>/resume/", views.run_resume, name="training-run-resume"),
    path("training/<int:pk>/choose/", views.run_choose, name="training-run-choose"),
]
