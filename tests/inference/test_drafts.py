"""Model drafts: a checkpoint answers prompt-only examples; each answer is the example's next revision, naming
the model; an example that changed since it was asked is left alone; only admins ask."""
import pytest

from curation.models import Example
from curation.services import create_example, edit_example
from inference.drafts import prompt_only, start_drafts
from inference.engine.decoding import DecodingSettings
from inference.models import DraftRun
from inference.services import GenerationError

pytestmark = pytest.mark.django_db
SHORT = DecodingSettings(max_new_tokens=8, do_sample=False)


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def test_only_lone_prompts_are_prompt_only():
    lone = create_example(turns=["Name three colours."])
    create_example(turns=["Hi?", "Hello."])
    create_example(turns=["Hi?", "Hello.", "And then?", "Then nothing."])

    assert list(prompt_only().values_list("pk", flat=True)) == [lone.pk]


def test_a_draft_becomes_the_examples_next_revision_naming_the_model(tiny_checkpoint):
    example = create_example(turns=["Name three colours."], split="test")
    answered = create_example(turns=["Hi?", "Hello."])

    run = start_drafts(Example.objects.all(), model_path=str(tiny_checkpoint), name="tiny chat", decoding=SHORT,
                       run_async=False)

    assert run.status == "succeeded", run.error
    assert run.written == [example.pk] and run.total == 1
    example.refresh_from_db()
    assert len(example.conversation) == 2 and example.conversation[1].strip()
    latest = example.revisions.order_by("-number").first()
    assert latest.note == "draft by tiny chat" and latest.author is None
    assert example.metadata["draft"]["model"] == "tiny chat" and example.metadata["draft"]["draft_run"] == run.pk
    assert example.status == "candidate" and example.split == "test"
    assert answered.revisions.count() == 1


def test_an_example_edited_after_it_was_asked_is_left_alone(tiny_checkpoint, bob, django_capture_on_commit_callbacks):
    example = create_example(turns=["Name three colours."])
    run = start_drafts(Example.objects.all(), model_path=str(tiny_checkpoint), decoding=SHORT)  # queued
    edit_example(example, expected_version=example.version, author=bob, turns=["Name four colours."])

    from core.jobs.runner import run_here

    run = run_here(run)

    assert run.status == "succeeded" and run.written == [] and run.skipped == {str(example.pk): "edited since"}
    example.refresh_from_db()
    assert example.conversation == ["Name four colours."]


def test_nothing_to_draft_and_a_missing_model_are_refused(tmp_path, tiny_checkpoint):
    create_example(turns=["Hi?", "Hello."])
    with pytest.raises(GenerationError, match="nothing to draft"):
        start_drafts(Example.objects.all(), model_path=str(tiny_checkpoint))
    with pytest.raises(GenerationError, match="choose a checkpoint or a model folder"):
        start_drafts(Example.objects.all(), model_path=str(tmp_path / "none"))
    assert not DraftRun.objects.exists()


def test_admins_ask_for_drafts_from_the_page_and_annotators_cannot(client_of, alice, bob, tiny_checkpoint):
    create_example(turns=["Name three colours."])
    page = client_of(alice).get("/generations/drafts/")
    assert page.status_code == 200 and "1 prompt-only example waits" in page.content.decode()

    answer = client_of(alice).post("/generations/drafts/", {"action": "draft", "model_path": str(tiny_checkpoint),
                                                             "limit": 10, "max_new_tokens": 8})

    run = DraftRun.objects.get()
    assert answer.status_code == 302 and answer["Location"] == f"/generations/drafts/{run.pk}/"
    assert run.total == 1 and run.created_by == alice
    assert "Drafts by" in client_of(alice).get(answer["Location"]).content.decode()
    assert client_of(bob).post("/generations/drafts/", {"model_path": str(tiny_checkpoint)}).status_code == 403
