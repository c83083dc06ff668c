"""GET /api/: where to start — the schema, the interactive docs, how to get a token, and every collection."""
from rest_framework.decorators import api_view, permission_classes, schema
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.reverse import reverse


def api_root_view(routers):
    """The root view listing each router's collections by their list URL (`<basename>-list`)."""

    @api_view(["GET"])
    @permission_classes([AllowAny])  # links only, no data: a newcomer finds the docs before having a token
    @schema(None)
    def api_root(request):
        collections = {}
        for router in routers:
            for prefix, _viewset, basename in router.registry:
                collections[prefix] = reverse(f"{basename}-list", request=request)
        return Response({
            "description": "LIMA Studio's REST API. Send `Authorization: Token <key>` (or use a logged-in session).",
            "schema": reverse("api-schema", request=request),
            "docs": reverse("api-docs", request=request),
            "token": reverse("api-auth-token", request=request),
            "collections": dict(sorted(collections.items())),
        })

    return api_root
