from django import forms
from django.contrib.auth.forms import SetPasswordMixin, UsernameField
from django.contrib.auth.models import User

from core.roles import ADMIN, ANNOTATOR

ROLE_CHOICES = [(ANNOTATOR, "Annotator: writes, edits, reviews, labels studies"),
                (ADMIN, "Admin: also imports, freezes, trains, manages people")]


class InviteForm(forms.Form):
    username = UsernameField(max_length=150, validators=[User.username_validator])
    email = forms.EmailField(required=False, help_text="The link is mailed here; it is also shown to you to copy.")
    role = forms.ChoiceField(choices=ROLE_CHOICES, initial=ANNOTATOR)


class CreateUserForm(SetPasswordMixin, InviteForm):
    """An account made with a password the admin passes on; Django's password validators apply."""

    email = forms.EmailField(required=False)
    password1, password2 = SetPasswordMixin.create_password_fields()

    def clean(self):
        cleaned = super().clean()
        self.validate_passwords()
        self.validate_password_for_user(User(username=cleaned.get("username", ""), email=cleaned.get("email", "")))
        return cleaned


class RoleForm(forms.Form):
    role = forms.ChoiceField(choices=ROLE_CHOICES)


class TokenForm(forms.Form):
    name = forms.CharField(max_length=100, help_text="What the token is for, e.g. “nightly export script”.")
