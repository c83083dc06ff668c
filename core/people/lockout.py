"""What a locked-out login gets: the locked-out page, or JSON on the API (429 either way)."""
from axes.backends import AxesStandaloneBackend
from django.conf import settings
from django.http import JsonResponse
from django.shortcuts import render


def lockout_message():
    minutes = settings.AXES_COOLOFF_MINUTES
    wait = (f"Try again in {minutes:g} minutes, or ask an admin to unlock you." if minutes > 0
            else "Ask an admin to unlock you.")
    return f"Too many failed logins ({settings.AXES_FAILURE_LIMIT} in a row): logging in is locked. {wait}"


def lockout_response(request, original_response=None, credentials=None):
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": lockout_message()}, status=429)
    return render(request, "registration/locked_out.html", {"message": lockout_message()}, status=429)


def client_ip(request):
    """The address the outermost of TRUSTED_PROXY_COUNT proxies saw (each proxy appends what it saw)."""
    forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if part.strip()]
    if len(forwarded) >= settings.TRUSTED_PROXY_COUNT:
        return forwarded[-settings.TRUSTED_PROXY_COUNT]
    return request.META.get("REMOTE_ADDR", "")


class LockoutBackend(AxesStandaloneBackend):
    """Axes' check before any password is compared. Calls without a request (the test client's login(), a shell)
    come from no client that could be guessing: they pass, where axes alone would raise."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        if request is None:
            return None
        return super().authenticate(request, username=username, password=password, **kwargs)
