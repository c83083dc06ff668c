"""Requests answered or refused before any view reads them."""
from django.http import HttpResponseBadRequest, JsonResponse


class RefuseNulInQuery:
    """A NUL character in a query parameter answers 400 naming the parameter. PostgreSQL cannot hold one in text,
    so it would reach the database as a filter or a search and fail there with a 500. A view that finds a
    parameter of the wrong type raises core.params.BadParameter, answered here the same way."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        for name, values in request.GET.lists():
            if "\x00" in name or any("\x00" in value for value in values):
                shown = name.replace("\x00", "\\0")
                message = f"{shown}: a NUL character (\\0) cannot be searched or filtered on."
                if request.path.startswith("/api/"):
                    return JsonResponse({"detail": message, "field": shown}, status=400)
                return HttpResponseBadRequest(message, content_type="text/plain; charset=utf-8")
        return self.get_response(request)

    def process_exception(self, request, exception):
        """A parameter of the wrong type (core.params.BadParameter), found by the view: 400 in the same words."""
        from core.params import BadParameter

        if not isinstance(exception, BadParameter):
            return None
        if request.path.startswith("/api/"):
            return JsonResponse({"detail": str(exception), "field": exception.name}, status=400)
        return HttpResponseBadRequest(str(exception), content_type="text/plain; charset=utf-8")


class HealthProbe:
    """/healthz/ answered first, before the host check and the HTTPS redirect: a load balancer or a container's
    own probe asks by IP over plain HTTP, with a Host header ALLOWED_HOSTS need not list. It shows no page."""

    PATHS = ("/healthz", "/healthz/")

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path_info in self.PATHS:
            from core.views import healthz

            return healthz(request)
        return self.get_response(request)
