"""Pages of the annotators' workspace: review queue, writing, example history, imports, dashboard."""
from django.urls import path
from django.views.generic import RedirectView

urlpatterns = [
    path("", RedirectView.as_view(url="/review/", permanent=False), name="home"),
]
