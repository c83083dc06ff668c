"""The similar-examples panel on the example and review pages, and /signals/ where an admin starts a run."""
import re

import pytest

from curation.signals.jobs import start_run
from curation.signals.models import SignalRun

pytestmark = pytest.mark.django_db


def test_the_example_and_review_pages_load_the_similar_panel(client_of, bob, topics):
    web = client_of(bob)
    bread = topics["bread"]

    for page in (f"/examples/{bread.pk}/", f"/review/{bread.pk}/"):
        assert f'hx-get="/examples/{bread.pk}/similar/"' in web.get(page).content.decode()


def test_the_similar_panel_shows_the_nearest_example_first(client_of, bob, topics):
    start_run("embedding", run_async=False)

    response = client_of(bob).get(f"/examples/{topics['bread'].pk}/similar/", {"k": "3"})

    assert response.status_code == 200
    shown = [int(pk) for pk in re.findall(r'data-example="(\d+)"', response.content.decode())]
    assert shown[0] == topics["bread2"].pk and len(shown) == 3 and topics["bread"].pk not in shown


def test_the_panel_embeds_an_example_whose_text_is_newer_than_its_embedding(client_of, bob, topics):
    start_run("embedding", run_async=False)
    from curation.services import edit_example

    tyre = topics["tyre"]
    edit_example(tyre, expected_version=tyre.version, author=bob,
                 turns=["What makes a sourdough loaf rise?", "The wild yeast of the starter, given a warm night."])

    response = client_of(bob).get(f"/examples/{tyre.pk}/similar/", {"k": "2"})

    shown = [int(pk) for pk in re.findall(r'data-example="(\d+)"', response.content.decode())]
    assert set(shown) == {topics["bread"].pk, topics["bread2"].pk}


def test_an_outsider_sees_no_panel(client_of, charlie, topics):
    assert client_of(charlie).get(f"/examples/{topics['bread'].pk}/similar/").status_code == 403


def test_an_admin_starts_a_run_and_sees_it_on_the_signals_page(client_of, alice, bob, topics, django_capture_on_commit_callbacks):
    web = client_of(alice)

    with django_capture_on_commit_callbacks(execute=False):  # queued, not sent: no worker in this test
        response = web.post("/signals/start/", {"signal": "length_percentile"})

    assert response.status_code == 302
    run = SignalRun.objects.get()
    assert run.signal == "length_percentile" and run.status == run.Status.QUEUED and run.created_by == alice
    page = web.get("/signals/").content.decode()
    assert f'data-run="{run.pk}"' in page and "Cancel signal run" in page
    # an annotator may look but not start
    assert client_of(bob).post("/signals/start/", {"signal": "style"}).status_code == 403
    assert client_of(bob).get("/signals/").status_code == 200


def test_an_unknown_signal_is_refused_with_its_name(client_of, alice):
    response = client_of(alice).post("/signals/start/", {"signal": "vibes"}, follow=True)

    assert "unknown signal &#x27;vibes&#x27;" in response.content.decode()
    assert not SignalRun.objects.exists()
