from django.urls import path

from core import views

urlpatterns = [
    path("healthz/", views.healthz, name="healthz"),
    path("healthz", views.healthz),  # probes often omit the slash; a redirect would fail some of them
    path("preferences/theme/", views.theme_choose, name="theme-choose"),
    path("jobs/<str:label>/<int:pk>/cancel/", views.job_cancel, name="job-cancel"),
]
