from django.utils.functional import SimpleLazyObject

from core.roles import role_of
from core.theme import THEMES, theme_of


def user_role(request):
    # Lazy and read once: the groups query runs only for templates that show the role (the layout, where it
    # appears several times), not for htmx partials.
    user = getattr(request, "user", None)
    return {"user_role": SimpleLazyObject(lambda: role_of(user)) if user is not None else ""}


def theme(request):
    """The theme goes on <html data-theme> server-side, so a dark page never flashes white first. Lazy like the
    role: htmx partials, which never show it, don't query it."""
    user = getattr(request, "user", None)
    return {"theme": SimpleLazyObject(lambda: theme_of(user)), "themes": THEMES}
