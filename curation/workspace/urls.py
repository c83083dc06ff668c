"""Pages of the annotators' workspace: review queue, writing, the examples table, example history, dashboard."""
from django.urls import path
from django.views.generic import RedirectView

from curation.workspace import dashboard, examples, listing, review, write

urlpatterns = [
    path("", RedirectView.as_view(url="/review/", permanent=False), name="home"),
    path("review/", review.review_queue_page, name="curation-review"),
    path("review/step/", review.review_step, name="curation-review-step"),
    path("review/<int:pk>/", review.review_item, name="curation-review-item"),
    path("review/<int:pk>/decide/", review.review_decide, name="curation-review-decide"),
    path("review/<int:pk>/split/", review.review_split, name="curation-review-split"),
    path("write/", write.write, name="curation-write"),
    path("write/preview/", write.write_preview, name="curation-write-preview"),
    path("examples/", listing.examples_table, name="curation-examples"),
    path("examples/bulk/", listing.examples_bulk, name="curation-examples-bulk"),
    path("examples/bulk/<int:pk>/", listing.examples_bulk_status, name="curation-examples-bulk-status"),
    path("examples/<int:pk>/", examples.example_detail, name="curation-example"),
    path("examples/<int:pk>/edit/", examples.example_edit, name="curation-example-edit"),
    path("examples/<int:pk>/diff/", examples.example_diff, name="curation-example-diff"),
    path("examples/<int:pk>/revert/", examples.example_revert, name="curation-example-revert"),
    path("dashboard/", dashboard.dashboard_page, name="curation-dashboard"),
    path("dashboard/targets/", dashboard.dashboard_targets, name="curation-dashboard-targets"),
]
