"""/write/: a new example through HTTP, the live preview and style check, and input that is sent back intact."""
import pytest

from curation.models import Example, Source

pytestmark = pytest.mark.django_db


def test_it_saves_a_two_turn_conversation_as_a_hand_written_candidate(client_of, bob):
    response = client_of(bob).post("/write/", {
        "turn": ["How do I boil an egg?", "Boiling an egg takes nine minutes.", "And soft?", "Six minutes."],
        "domain": "cooking", "split": "dev", "tags": "food, basics, food",
    })
    example = Example.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/write/?saved={example.pk}"
    assert example.conversation == ["How do I boil an egg?", "Boiling an egg takes nine minutes.", "And soft?",
                                    "Six minutes."]
    assert list(example.turns.values_list("role", flat=True)) == ["user", "assistant", "user", "assistant"]
    assert (example.source.kind, example.status, example.split) == (Source.Kind.MANUAL, "candidate", "dev")
    assert (example.domain, example.tags, example.created_by) == ("cooking", ["food", "basics"], bob)
    assert example.revisions.get().note == "written"


def test_the_page_after_saving_confirms_it_so_the_browser_drops_its_draft(client_of, bob):
    client = client_of(bob)
    client.post("/write/", {"turn": ["Q?", "A."], "split": "train"})
    example = Example.objects.get()
    html = client.get(f"/write/?saved={example.pk}").content.decode()
    assert f'data-draft-saved="{example.pk}"' in html
    assert f"Example #{example.pk} is saved" in html


def test_a_lone_prompt_is_saved_without_an_answer(client_of, bob):
    client_of(bob).post("/write/", {"turn": ["Tell me a story about a lighthouse.", ""], "split": "test"})
    assert Example.objects.get().conversation == ["Tell me a story about a lighthouse."]


def test_a_broken_conversation_comes_back_with_the_text_and_an_error(client_of, bob):
    response = client_of(bob).post("/write/", {
        "turn": ["First question", "First answer", "A follow-up with no answer", ""],
        "domain": "cooking", "split": "train", "tags": "a, b",
    })
    html = response.content.decode()
    assert response.status_code == 422
    assert "Turn 4 is empty." in html
    assert "A follow-up with no answer</textarea>" in html
    assert 'value="cooking"' in html and 'value="a, b"' in html
    assert 'data-has-input="1"' in html
    assert Example.objects.count() == 0


def test_an_empty_answer_in_a_multi_turn_conversation_is_refused(client_of, bob):
    response = client_of(bob).post("/write/", {"turn": ["Q", "", "Q2", "A2"], "split": "train"})
    assert response.status_code == 422
    assert "Turn 2 is empty" in response.content.decode()


def test_the_preview_renders_markdown_and_warns_about_style(client_of, bob):
    response = client_of(bob).post("/write/preview/", {"turn": [
        "How do I learn to type?",
        "As an AI, I think you should **practise daily**; see https://example.org for drills.",
    ]})
    html = response.content.decode()
    assert response.status_code == 200
    assert "<strong>practise daily</strong>" in html
    assert "Written in the first person" in html
    assert "Contains a link" in html
    assert "Contains a phrase to avoid" in html and "as an ai" in html
    assert "characters; LIMA kept 1,200 or more" in html
    assert "chars · ≈" in html


def test_a_response_in_lima_style_gets_no_warning(client_of, bob):
    answer = ("Learning to touch type is mostly a matter of slow, accurate practice. " * 20).strip()
    html = client_of(bob).post("/write/preview/", {"turn": ["How do I learn to touch type?", answer]}).content.decode()
    assert "In LIMA&#x27;s style: no warnings." in html or "In LIMA's style: no warnings." in html
    assert 'class="warning ' not in html


def test_the_preview_sanitises_what_it_renders(client_of, bob):
    html = client_of(bob).post("/write/preview/", {"turn": [
        "<script>alert(1)</script>",
        "Sure. [x](javascript:alert(1)) <img src=x onerror=alert(1)>",
    ]}).content.decode()
    assert "<script>" not in html
    assert 'href="javascript:' not in html
    assert "<img" not in html
    assert "&lt;script&gt;" in html


def test_the_write_page_offers_known_domains(client_of, bob):
    client = client_of(bob)
    client.post("/write/", {"turn": ["Q?", "A."], "split": "train", "domain": "astronomy"})
    assert '<option value="astronomy">' in client.get("/write/").content.decode()
