"""Admins manage people from the app's own pages: invite, create, change roles, deactivate; everything audited."""
import re

import pytest
from django.contrib.auth import get_user_model

from core.people.models import AuditEntry, Invitation
from core.roles import role_of

pytestmark = pytest.mark.django_db

STRONG = "a quiet lighthouse keeper"


def invite(client, username="erin", email="erin@example.org", role="annotator"):
    return client.post("/people/invite/", {"invite-username": username, "invite-email": email, "invite-role": role})


def link_in(mailoutbox):
    return re.search(r"http://testserver(/invite/\S+/)", mailoutbox[-1].body).group(1)


def test_only_admins_open_the_people_page(client, client_of, alice, bob, charlie):
    assert client.get("/people/").status_code == 302
    assert client_of(bob).get("/people/").status_code == 403
    assert client_of(charlie).get("/people/").status_code == 403
    assert client_of(alice).post("/people/invite/", {}).status_code == 422
    assert client_of(bob).post("/people/invite/", {}).status_code == 403
    page = client_of(alice).get("/people/")
    assert page.status_code == 200
    assert b">People</a>" in page.content and b"bob" in page.content


def test_the_people_nav_entry_is_for_admins_only(client_of, alice, bob):
    assert b'href="/people/"' in client_of(alice).get("/review/").content
    assert b'href="/people/"' not in client_of(bob).get("/review/").content


def test_an_invitation_mails_a_one_time_link_that_creates_an_annotator(client, client_of, alice, mailoutbox):
    # given an admin's invitation
    admin = client_of(alice)
    response = invite(admin)
    assert response.status_code == 302
    assert len(mailoutbox) == 1 and mailoutbox[0].to == ["erin@example.org"]
    path = link_in(mailoutbox)
    assert f"http://testserver{path}" in admin.get("/people/").content.decode()  # shown to copy as well, once
    assert f"http://testserver{path}" not in admin.get("/people/").content.decode()

    # when the invitee opens it and sets a password that the validators refuse, then a good one
    assert client.get(path).status_code == 200
    weak = client.post(path, {"new_password1": "erin", "new_password2": "erin"})
    assert weak.status_code == 422 and b"too short" in weak.content
    assert not get_user_model().objects.filter(username="erin").exists()
    done = client.post(path, {"new_password1": STRONG, "new_password2": STRONG})

    # then the account exists with its role, the link is spent, and the password logs in
    assert done.status_code == 302 and done["Location"] == "/accounts/login/?username=erin"
    erin = get_user_model().objects.get(username="erin")
    assert role_of(erin) == "annotator" and erin.email == "erin@example.org"
    assert client.get(path).status_code == 404
    assert client.post(path, {"new_password1": STRONG, "new_password2": STRONG}).status_code == 404
    assert client.post("/accounts/login/", {"username": "erin", "password": STRONG}).status_code == 302
    assert client.get("/review/").status_code == 200
    actions = list(AuditEntry.objects.order_by("pk").values_list("actor_name", "action", "target_name"))
    assert actions == [("alice", "invited", "erin"), ("erin", "accepted", "erin")]


def test_an_expired_or_revoked_invitation_does_not_work(client, client_of, alice, mailoutbox, settings):
    invite(client_of(alice), username="fay", email="fay@example.org")
    path = link_in(mailoutbox)
    Invitation.objects.update(expires_at="2000-01-01T00:00Z")
    assert client.get(path).status_code == 404
    invite(client_of(alice), username="gus", email="")  # no e-mail: the page shows the link
    gus = Invitation.objects.get(username="gus")
    assert client_of(alice).post(f"/people/invitations/{gus.pk}/revoke/").status_code == 302
    assert Invitation.objects.get(pk=gus.pk).revoked_at is not None
    assert AuditEntry.objects.filter(action="invitation_revoked", target_name="gus").exists()
    assert client.get("/invite/inv_not-a-key/").status_code == 404


def test_a_taken_username_cannot_be_invited_or_created(client_of, alice, bob):
    response = invite(client_of(alice), username="Bob")
    assert response.status_code == 422 and b"is taken" in response.content
    response = client_of(alice).post("/people/create/", {"create-username": "bob", "create-role": "annotator",
                                                         "create-password1": STRONG, "create-password2": STRONG})
    assert response.status_code == 422


def test_an_admin_creates_an_annotator_with_a_validated_password(client, client_of, alice):
    weak = client_of(alice).post("/people/create/", {"create-username": "hal", "create-role": "annotator",
                                                     "create-password1": "password", "create-password2": "password"})
    assert weak.status_code == 422 and b"too common" in weak.content
    response = client_of(alice).post("/people/create/", {"create-username": "hal", "create-role": "annotator",
                                                         "create-email": "", "create-password1": STRONG,
                                                         "create-password2": STRONG})
    assert response.status_code == 302
    hal = get_user_model().objects.get(username="hal")
    assert role_of(hal) == "annotator"
    entry = AuditEntry.objects.get(action="created")
    assert (entry.actor, entry.target, entry.after["role"]) == (alice, hal, "annotator")


def test_changing_a_role_is_audited_with_before_and_after(client_of, alice, bob):
    assert client_of(alice).post(f"/people/{bob.pk}/role/", {"role": "admin"}).status_code == 302
    bob.refresh_from_db()
    assert role_of(get_user_model().objects.get(pk=bob.pk)) == "admin" and bob.is_staff
    entry = AuditEntry.objects.get(action="role_changed")
    assert (entry.actor_name, entry.target_name, entry.before, entry.after) == (
        "alice", "bob", {"role": "annotator"}, {"role": "admin"})
    client_of(alice).post(f"/people/{bob.pk}/role/", {"role": "annotator"})
    assert role_of(get_user_model().objects.get(pk=bob.pk)) == "annotator"
    assert client_of(alice).post(f"/people/{bob.pk}/role/", {"role": "superuser"}).status_code == 302
    assert role_of(get_user_model().objects.get(pk=bob.pk)) == "annotator"
    page = client_of(alice).get("/people/").content.decode()
    assert "changed the role of" in page


def test_an_admin_cannot_demote_or_deactivate_themselves(client_of, alice):
    client_of(alice).post(f"/people/{alice.pk}/role/", {"role": "annotator"})
    client_of(alice).post(f"/people/{alice.pk}/active/", {"active": "0"})
    alice.refresh_from_db()
    assert role_of(alice) == "admin" and alice.is_active
    assert not AuditEntry.objects.exists()


def test_a_deactivated_annotator_is_logged_out_and_can_be_reactivated(client, client_of, alice, bob):
    bobs = client_of(bob)
    assert bobs.get("/review/").status_code == 200
    assert client_of(alice).post(f"/people/{bob.pk}/active/", {"active": "0"}).status_code == 302
    assert bobs.get("/review/").status_code == 302  # the session no longer logs him in
    assert client.post("/accounts/login/", {"username": "bob", "password": "correct horse battery staple"}
                       ).status_code == 200
    client_of(alice).post(f"/people/{bob.pk}/active/", {"active": "1"})
    assert client.post("/accounts/login/", {"username": "bob", "password": "correct horse battery staple"}
                       ).status_code == 302
    assert [e.action for e in AuditEntry.objects.order_by("pk")] == ["deactivated", "reactivated"]
