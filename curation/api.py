"""REST API viewsets of this app, registered on `router` (mounted under /api/ by config/api_urls.py)."""
from rest_framework.routers import SimpleRouter

router = SimpleRouter()
