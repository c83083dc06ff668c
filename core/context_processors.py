from django.utils.functional import lazy

from core.roles import role_of

_lazy_role = lazy(role_of, str)


def user_role(request):
    # Lazy: the groups query runs only for templates that show the role (the layout), not for htmx partials.
    user = getattr(request, "user", None)
    return {"user_role": _lazy_role(user) if user is not None else ""}
