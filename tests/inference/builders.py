"""Small builders for inference tests: a frozen version with dev/test prompts, finished generation runs with
known responses, a training run with checkpoints. Rows are made directly (the freezing and training verbs
have their own tests)."""
from django.utils import timezone

from curation.models import DatasetItem, DatasetVersion
from curation.services import create_example
from inference.models import Generation, GenerationRun

DEV_CHATS = [
    ["How do I brew coffee?", "Pour hot water over ground coffee, wait four minutes, then press."],
    ["Tell me a story about a cat.", "A small cat found a warm window and slept there all winter."],
    ["What is the capital of France?", "The capital of France is Paris."],
]
TEST_PROMPTS = [
    ["Name three colours."],
    ["Why is the sky blue?", "Rayleigh scattering.", "Explain it to a child.", "Air bounces blue light around most."],
]


def make_version(name="v1", dev=DEV_CHATS, test=TEST_PROMPTS, train=()):
    """A ready version whose items pin each example's first revision."""
    version = DatasetVersion.objects.create(name=name, status=DatasetVersion.Status.READY)
    for split, chats in (("train", train), ("dev", dev), ("test", test)):
        for turns in chats:
            example = create_example(turns=turns, split=split, status="approved")
            DatasetItem.objects.create(version=version, example=example, revision=example.revisions.get(), split=split)
    version.example_count = version.items.count()
    version.save(update_fields=["example_count"])
    return version


def make_run(name, responses, *, checkpoint=None, version=None, split="dev", kind=GenerationRun.Kind.EXTERNAL,
             pk=None, prompts=None):
    """A finished run with {prompt_key: response}; prompts come from the version, else from `prompts`
    ({key: text}), else are "Prompt <key>?".
    With `pk`, the run has that id and its generations pk * 1000 + position (ids a test can look for)."""
    now = timezone.now()
    run = GenerationRun.objects.create(
        pk=pk, name=name, kind=kind, checkpoint=checkpoint, dataset_version=version, split=split if version else "",
        status=GenerationRun.Status.SUCCEEDED, total=len(responses), done=len(responses),
        started_at=now, finished_at=now,
    )
    items = {}
    if version is not None:
        items = {str(i.example_id): i for i in version.items.select_related("revision")}
    Generation.objects.bulk_create(
        Generation(
            pk=pk * 1000 + position if pk else None, run=run, position=position, prompt_key=str(key),
            prompt=(items[str(key)].revision.turns[:1] if str(key) in items
                    else [(prompts or {}).get(key, f"Prompt {key}?")]),
            response=text, model_name=name, dataset_item=items.get(str(key)),
        )
        for position, (key, text) in enumerate(responses.items(), 1)
    )
    return run


def make_training_run(version, checkpoint_path, epochs=(5, 6)):
    from training.models import Checkpoint, TrainingRun

    run = TrainingRun.objects.create(name="tiny run", dataset_version=version, base_model="tiny",
                                     status=TrainingRun.Status.SUCCEEDED)
    for epoch in epochs:
        Checkpoint.objects.create(run=run, epoch=epoch, step=epoch * 10, path=str(checkpoint_path))
    return run
