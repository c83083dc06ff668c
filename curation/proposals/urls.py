from django.urls import path

from curation.proposals import views

urlpatterns = [
    path("proposals/", views.proposal_list, name="curation-proposals"),
    path("proposals/<int:pk>/", views.proposal_detail, name="curation-proposal"),
    path("proposals/<int:pk>/accept/", views.proposal_accept, name="curation-proposal-accept"),
]
