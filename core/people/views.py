"""The people page (admins), the invitation page (anyone holding a link) and the account's tokens page."""
from functools import wraps

from axes.models import AccessAttempt
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import SetPasswordForm
from django.contrib.auth.views import PasswordChangeView
from django.core.exceptions import PermissionDenied
from django.db.models import Count
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse, reverse_lazy
from django.utils import timezone
from django.views.decorators.http import require_POST

from core.people import services
from core.people.forms import CreateUserForm, InviteForm, RoleForm, TokenForm
from core.people.models import ApiToken, AuditEntry, Invitation
from core.people.tokens import TokenLimitReached, issue_token, revoke_tokens
from core.roles import is_admin, role_of

AUDIT_ROWS = 50
INVITE_LINK_KEY = "people-invite-link"
NEW_TOKEN_KEY = "account-new-token"


def requires_admin(view):
    @wraps(view)
    @login_required
    def wrapped(request, *args, **kwargs):
        if not is_admin(request.user):
            raise PermissionDenied("Only admins manage people.")
        return view(request, *args, **kwargs)

    return wrapped


def locked_logins():
    """Usernames and addresses axes currently refuses."""
    attempts = AccessAttempt.objects.filter(failures_since_start__gte=settings.AXES_FAILURE_LIMIT)
    if settings.AXES_COOLOFF_TIME:
        attempts = attempts.filter(attempt_time__gte=timezone.now() - settings.AXES_COOLOFF_TIME)
    return attempts.order_by("-attempt_time")


@requires_admin
def people(request, invite_form=None, create_form=None, status=200):
    users = (get_user_model().objects.order_by("username").prefetch_related("groups")
             .annotate(token_count=Count("api_tokens", distinct=True)))
    now = timezone.now()
    invitations = [(invitation, invitation.state(now))
                   for invitation in Invitation.objects.select_related("invited_by")[:50]]
    return render(request, "people/people.html", {
        "rows": [(user, role_of(user)) for user in users],
        "invitations": invitations,
        "audit": AuditEntry.objects.all()[:AUDIT_ROWS],
        "locked": locked_logins(),
        "invite_form": invite_form or InviteForm(prefix="invite"),
        "create_form": create_form or CreateUserForm(prefix="create"),
        "role_form": RoleForm(),
        "invite_link": request.session.pop(INVITE_LINK_KEY, None),
        "expiry_hours": settings.INVITE_EXPIRY_HOURS,
    }, status=status)


def _act(request, action, success):
    try:
        action()
    except services.PeopleError as error:
        messages.error(request, str(error))
    else:
        messages.success(request, success)
    return redirect("people")


@requires_admin
@require_POST
def people_invite(request):
    form = InviteForm(request.POST, prefix="invite")
    if not form.is_valid():
        return people(request, invite_form=form, status=422)
    data = form.cleaned_data
    try:
        invitation, link, mail_error = services.invite_user(request.user, data["username"], data["email"], data["role"],
                                                request.build_absolute_uri)
    except services.PeopleError as error:
        form.add_error("username", str(error))
        return people(request, invite_form=form, status=422)
    if mail_error:
        messages.error(request, mail_error)
    request.session[INVITE_LINK_KEY] = {"username": invitation.username, "link": link,
                                        "email": invitation.email if not mail_error else ""}
    return redirect("people")


@requires_admin
@require_POST
def people_create(request):
    form = CreateUserForm(request.POST, prefix="create")
    if not form.is_valid():
        return people(request, create_form=form, status=422)
    data = form.cleaned_data
    try:
        user = services.create_user(request.user, data["username"], data["email"], data["role"], data["password1"])
    except services.PeopleError as error:
        form.add_error("username", str(error))
        return people(request, create_form=form, status=422)
    messages.success(request, f"{user.username} can log in now as {data['role']}.")
    return redirect("people")


@requires_admin
@require_POST
def people_role(request, pk):
    user = get_object_or_404(get_user_model(), pk=pk)
    form = RoleForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose annotator or admin.")
        return redirect("people")
    role = form.cleaned_data["role"]
    return _act(request, lambda: services.change_role(request.user, user, role), f"{user.username} is now {role}.")


@requires_admin
@require_POST
def people_active(request, pk):
    user = get_object_or_404(get_user_model(), pk=pk)
    active = request.POST.get("active") == "1"
    done = (f"{user.username} can log in again." if active
            else f"{user.username} is deactivated: logged out, API tokens revoked.")
    return _act(request, lambda: services.set_active(request.user, user, active), done)


@requires_admin
@require_POST
def invitation_revoke(request, pk):
    invitation = get_object_or_404(Invitation, pk=pk)
    return _act(request, lambda: services.revoke_invitation(request.user, invitation),
                f"The invitation of {invitation.username} no longer works.")


@requires_admin
@require_POST
def people_unlock(request):
    username = request.POST.get("username", "").strip()
    if not username:
        messages.error(request, "Which username? The form sent none.")
        return redirect("people")
    count = services.unlock(request.user, username)
    messages.success(request, f"{username} may log in again ({count} lock-out record{'s' if count != 1 else ''} "
                              "cleared).")
    return redirect("people")


def invite_accept(request, key):
    """Anyone holding the link: set a password, which creates the account; then log in as usual."""
    invitation = services.find_invitation(key)
    if invitation is None:
        return render(request, "people/invite_invalid.html", status=404)
    user = get_user_model()(username=invitation.username, email=invitation.email)
    form = SetPasswordForm(user, request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.accept_invitation(key, form.cleaned_data["new_password1"])
        except services.PeopleError:
            return render(request, "people/invite_invalid.html", status=404)
        messages.success(request, f"Your account {invitation.username} is ready: log in with your new password.")
        return redirect(f"{reverse('login')}?username={invitation.username}")
    return render(request, "people/invite_accept.html", {"form": form, "invitation": invitation},
                  status=422 if request.method == "POST" else 200)


@login_required
def account_tokens(request):
    form = TokenForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            token, key = issue_token(request.user, form.cleaned_data["name"])
        except TokenLimitReached as error:
            form.add_error("name", str(error))
        else:
            request.session[NEW_TOKEN_KEY] = {"name": token.name, "key": key}
            return redirect("account-tokens")
    from rest_framework.authtoken.models import Token as LegacyToken

    return render(request, "people/tokens.html", {
        "form": form,
        "tokens": ApiToken.objects.filter(user=request.user),
        "legacy": LegacyToken.objects.filter(user=request.user).first(),
        "new_token": request.session.pop(NEW_TOKEN_KEY, None),
    }, status=422 if form.errors else 200)


@login_required
@require_POST
def account_token_revoke(request, pk):
    token = get_object_or_404(ApiToken, pk=pk, user=request.user)
    revoke_tokens(request.user, pk=token.pk)
    messages.success(request, f"The token “{token.name}” no longer works.")
    return redirect("account-tokens")


@login_required
@require_POST
def account_tokens_revoke_all(request):
    count = services.revoke_all_tokens(request.user, request.user, "revoked by their owner")
    messages.success(request, f"{count} token{'s' if count != 1 else ''} revoked.")
    return redirect("account-tokens")


class AccountPasswordChangeView(PasswordChangeView):
    """Django's own view (old password, validators, this session kept); the signal revokes the API tokens."""

    success_url = reverse_lazy("account-tokens")

    def form_valid(self, form):
        response = super().form_valid(form)
        messages.success(self.request, "Password changed. Your API tokens were revoked; other sessions are logged out.")
        return response
