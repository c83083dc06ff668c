"""`make run` migrates and runs `bootstrap --demo`: the result must be a working demo."""
import io
import re

import pytest
from django.core.management import call_command

from curation.models import Example

pytestmark = pytest.mark.django_db


def run_bootstrap(*args):
    out = io.StringIO()
    call_command("bootstrap", *args, stdout=out)
    return out.getvalue()


def printed_password(output, username):
    match = re.search(rf"username: {re.escape(username)}\s+password: (\S+)", output)
    assert match, output
    return match.group(1)


def test_the_demo_annotator_can_log_in_and_reach_the_review_queue(client):
    output = run_bootstrap("--demo")
    password = printed_password(output, "demo-annotator")

    response = client.post("/accounts/login/", {"username": "demo-annotator", "password": password})
    assert response.status_code == 302

    response = client.get("/", follow=True)
    assert response.redirect_chain[0][0] == "/review/"
    assert client.session.get("_auth_user_id")


def test_the_demo_dataset_is_mostly_approved_with_splits_and_leaves_some_candidates():
    run_bootstrap("--demo")
    approved = Example.objects.filter(status="approved")
    assert Example.objects.count() >= 24
    assert approved.count() > Example.objects.count() / 2
    assert not approved.filter(split="unassigned").exists()
    assert approved.filter(split="train").count() >= 20
    assert Example.objects.filter(status="candidate").exists()
    assert any(e.turns.count() >= 4 for e in Example.objects.all()), "no multi-turn demo example"


def test_running_bootstrap_twice_is_harmless():
    run_bootstrap("--demo")
    count = Example.objects.count()
    output = run_bootstrap("--demo")
    assert Example.objects.count() == count
    assert "0 examples created" in output


def test_running_bootstrap_again_keeps_the_demo_passwords_and_sessions(client):
    # given a demo annotator logged in
    password = printed_password(run_bootstrap("--demo"), "demo-annotator")
    assert client.post("/accounts/login/", {"username": "demo-annotator", "password": password}).status_code == 302

    # when `make run` bootstraps again
    output = run_bootstrap("--demo")

    # then the password is the same, the session still works, and the banner says so
    assert "password: (unchanged" in output
    assert client.post("/accounts/login/", {"username": "demo-annotator", "password": password}).status_code == 302
    assert client.get("/review/").status_code == 200


def test_reset_passwords_gives_new_ones(client):
    old = printed_password(run_bootstrap("--demo"), "demo-annotator")
    client.post("/accounts/login/", {"username": "demo-annotator", "password": old})
    new = printed_password(run_bootstrap("--demo", "--reset-passwords"), "demo-annotator")
    assert new != old
    assert client.get("/review/").status_code == 302  # the old session ended with the old password
    assert client.post("/accounts/login/", {"username": "demo-annotator", "password": new}).status_code == 302


def test_a_fixed_demo_password_is_not_rehashed_on_every_run(settings):
    from django.contrib.auth import get_user_model

    settings.DEMO_PASSWORD = "fixed-demo-password"
    run_bootstrap("--demo")
    stored = get_user_model().objects.get(username="demo-admin").password
    output = run_bootstrap("--demo")
    assert get_user_model().objects.get(username="demo-admin").password == stored
    assert printed_password(output, "demo-admin") == "fixed-demo-password"
