"""REST API of imports (/api/imports/), registered on `router`."""
from rest_framework.routers import SimpleRouter

router = SimpleRouter()
