from core.roles import role_of
from core.theme import THEMES, theme_of


def user_role(request):
    user = getattr(request, "user", None)
    return {"user_role": role_of(user) if user is not None else ""}


def theme(request):
    """The theme goes on <html data-theme> server-side, so a dark page never flashes white first."""
    return {"theme": theme_of(getattr(request, "user", None)), "themes": THEMES}
