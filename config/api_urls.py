"""The REST API under /api/: each app registers its viewsets on its own router in `<app>/api.py`."""
from django.urls import path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from config.api_root import api_root_view
from core.people.api import ObtainTokenView
from curation.datasets.api import router as datasets_router
from curation.imports.api import router as imports_router
from curation.signals.api import urlpatterns as signals_urls
from curation.workspace.api import router as examples_router
from inference.api import router as inference_router
from training.api import router as training_router

ROUTERS = (imports_router, examples_router, datasets_router, training_router, inference_router)

urlpatterns = [
    path("", api_root_view(ROUTERS), name="api-root"),
    path("auth/token/", ObtainTokenView.as_view(), name="api-auth-token"),
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # The split view serves its start-up script as a file of its own: no inline script under the CSP.
    path("docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
    *imports_router.urls,
    *signals_urls,
    *examples_router.urls,
    *datasets_router.urls,
    *training_router.urls,
    *inference_router.urls,
]
