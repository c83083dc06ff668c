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
