"""The colour theme of the pages: the user's stored choice, read once per page and written by the toggle."""
from core.models import UserPreference

THEMES = [choice for choice, _ in UserPreference.Theme.choices]


def theme_of(user):
    """'system', 'light' or 'dark'; 'system' for anyone without a stored choice (and before logging in)."""
    if user is None or not user.is_authenticated:
        return UserPreference.Theme.SYSTEM
    preference = getattr(user, "_theme_preference", None)
    if preference is None:
        preference = UserPreference.objects.filter(user=user).values_list("theme", flat=True).first() or "system"
        user._theme_preference = preference
    return preference


def set_theme(user, theme):
    if theme not in THEMES:
        raise ValueError(f"theme: expected one of {', '.join(THEMES)}, got {theme!r}")
    UserPreference.objects.update_or_create(user=user, defaults={"theme": theme})
    user._theme_preference = theme
