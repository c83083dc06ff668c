from django.urls import path

from curation.signals import views

urlpatterns = [
    path("examples/<int:pk>/similar/", views.similar_panel, name="curation-example-similar"),
    path("signals/", views.signals_page, name="curation-signals"),
    path("signals/start/", views.signals_start, name="curation-signals-start"),
]
