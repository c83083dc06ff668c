from core.roles import role_of


def user_role(request):
    user = getattr(request, "user", None)
    return {"user_role": role_of(user) if user is not None else ""}
