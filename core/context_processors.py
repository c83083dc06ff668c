from django.utils.functional import lazy

from core.roles import role_of
from core.theme import THEMES, theme_of

_lazy_role = lazy(role_of, str)
_lazy_theme = lazy(theme_of, str)


def user_role(request):
    # Lazy: the groups query runs only for templates that show the role (the layout), not for htmx partials.
    user = getattr(request, "user", None)
    return {"user_role": _lazy_role(user) if user is not None else ""}


def theme(request):
    """The theme goes on <html data-theme> server-side, so a dark page never flashes white first. Lazy like the
    role: htmx partials, which never show it, don't query it."""
    return {"theme": _lazy_theme(getattr(request, "user", None)), "themes": THEMES}
