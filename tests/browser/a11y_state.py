"""A small realistic state for visiting every page: the demo examples, an import run with rejected records, two
dataset versions, a finished training run with a loss series and checkpoints, a generation run, a draft run,
a pairwise and a rating study with labels, a proposal. Rows are made directly or by the real verbs run inline."""
from django.utils import timezone

from core.people.services import invite_user
from core.people.tokens import issue_token
from curation.datasets.versions import freeze_version
from curation.demo_data import load_demo_dataset
from curation.imports.ingest import start_import
from curation.models import Example
from curation.proposals.jobs import start_proposal
from inference.models import DraftRun, ModelEndpoint
from inference.studies import create_study, record_label
from tests.inference.builders import make_run
from tests.training.runs_helpers import frozen_version
from training.models import Checkpoint, TrainingRun

PROMPTS = {"1": "How do I keep basil alive on a windowsill?", "2": "Write a haiku about a lighthouse.",
           "3": "What is the difference between a list and a tuple in Python?"}
CHATS = [["What is tea?", "A drink made from the leaves of the tea plant."],
         ["Name a prime.", "Seven.", "Another one?", "Eleven."]]


def finished_training_run(version):
    losses = [6.23, 5.41, 4.87, 4.52, 4.31, 4.18, 4.02, 3.95]
    steps = list(range(1, len(losses) + 1))
    now = timezone.now()
    run = TrainingRun.objects.create(
        name="lima-tiny demo", dataset_version=version, base_model="tiny-demo", status=TrainingRun.Status.SUCCEEDED,
        attempt=1, done=len(losses), total=len(losses), epoch=2, epochs=2, started_at=now, finished_at=now,
        metrics={"step": steps, "epoch": [1 + (s > 4) for s in steps], "loss": losses, "lr": [1e-5] * len(losses)},
        data_report={"examples": 2, "examples_by_source": {"manual": 2}, "source_token_share": {"manual": 1.0},
                     "trimmed": 0, "cut": 0, "dropped": 0},
    )
    for epoch in (1, 2):
        Checkpoint.objects.create(run=run, epoch=epoch, step=epoch * 4, path=f"/nonexistent/checkpoint-epoch-{epoch:02d}",
                                  bytes=600_000, dtype="float32")
    return run


def build(admin, annotator, shared_data):
    """Make the state; returns {name: id} for the pages that show one row."""
    load_demo_dataset(author=admin)
    imported = start_import("stackexchange", shared_data / "stackexchange" / "coffee_2015",
                            options={"rejected_sample": "all"}, user=admin, run_async=False)
    first = freeze_version("lima v1", author=admin, description="Every approved example").version
    second = frozen_version(CHATS, name="lima v0")
    training = finished_training_run(first)
    kestrel = make_run("Kestrel-65B", {k: f"**Certainly.** A careful answer to: {p}" for k, p in PROMPTS.items()},
                       prompts=PROMPTS)
    osprey = make_run("Osprey-7B", {k: f"A short answer to: {p}" for k, p in PROMPTS.items()}, prompts=PROMPTS)
    pairwise = create_study(name="Birds of a feather", runs=[kestrel, osprey], overlap=2, seed=7)
    rating = create_study(name="Rated birds", runs=[kestrel], kind="rating", overlap=2, seed=1)
    for user in (admin, annotator):
        for item, label in zip(pairwise.items.order_by("position"), ("A", "tie", "B")):
            record_label(item, user, label)
        for item, label in zip(rating.items.order_by("position"), ("Pass", "Excellent", "Fail")):
            record_label(item, user, label)
    # the annotator still has one item to label on a fresh study (the annotate page shows a real item)
    open_study = create_study(name="Open birds", runs=[kestrel, osprey], seed=3)
    now = timezone.now()
    draft = DraftRun.objects.create(name="lima-tiny demo", model_path="/nonexistent/checkpoint-epoch-02",
                                    examples=[], status=DraftRun.Status.SUCCEEDED, started_at=now, finished_at=now,
                                    created_by=admin)
    try:
        proposal = start_proposal(size=5, run_async=False, author=admin)
    except Exception as error:  # noqa: BLE001 - the page must still be visited; say why it has no result
        raise AssertionError(f"the proposal for the a11y state failed: {error}") from error
    endpoint = ModelEndpoint.objects.create(name="GPT-4 (baseline)", base_url="http://127.0.0.1:9/v1", model="gpt-4",
                                            api_key_env="OPENAI_API_KEY")
    issue_token(admin, "nightly export")
    invite_user(admin, "erin", "erin@example.org", "annotator", lambda path: "http://testserver" + path)
    example = Example.objects.filter(import_run=imported).order_by("pk").first() or Example.objects.order_by("pk").first()
    return {"import": imported.pk, "version": first.pk, "other_version": second.pk, "training": training.pk,
            "generation": kestrel.pk, "draft": draft.pk, "pairwise": pairwise.pk, "rating": rating.pk,
            "open_study": open_study.pk, "proposal": proposal.pk, "example": example.pk,
            "endpoint": endpoint.pk}
