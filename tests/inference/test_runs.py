"""Generation runs: prompt sets, the engine subprocess and its progress, decoding settings reaching the
engine, imported baselines, cancel, the pages, and a run through a real worker on the tiny model."""
import io
import json
import time

import pytest

from core.jobs.runner import run_here
from inference.engine.generate import DecodingSettings
from inference.models import Generation, GenerationRun
from inference.runner import engine_command
from inference.services import (
    GenerationError,
    cancel_generation_run,
    create_generation_run,
    import_responses,
    start_checkpoint_selection,
    version_prompts,
)
from tests.inference.builders import DEV_CHATS, make_training_run, make_version

SETTINGS = DecodingSettings(top_p=0.5, temperature=1.3, repetition_penalty=1.05, max_new_tokens=3)


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


# --- Prompt sets ----------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_versions_split_gives_its_prompts_without_the_last_answer():
    version = make_version()

    dev = version_prompts(version, "dev")
    test = version_prompts(version, "test")

    assert [p.turns for p in dev] == [chat[:1] for chat in DEV_CHATS]
    assert test[1].turns == ["Why is the sky blue?", "Rayleigh scattering.", "Explain it to a child."]
    items = {str(i.example_id): i.pk for i in version.items.all()}
    assert all(items[p.key] == p.dataset_item_id for p in dev + test)


@pytest.mark.django_db
def test_a_run_is_refused_without_a_model_or_a_prompt_set(tmp_path):
    version = make_version()
    with pytest.raises(GenerationError, match="no such model folder"):
        create_generation_run(model_path=str(tmp_path / "nowhere"), dataset_version=version, split="dev")
    with pytest.raises(GenerationError, match="one of the two"):
        create_generation_run(model_path=str(tmp_path), split="dev")
    with pytest.raises(GenerationError, match="dev or the test split"):
        create_generation_run(model_path=str(tmp_path), dataset_version=version, split="train")
    empty = make_version("empty", dev=[], test=[["Only a test prompt."]])
    with pytest.raises(GenerationError, match="has no dev example"):
        create_generation_run(model_path=str(tmp_path), dataset_version=empty, split="dev")
    bad = tmp_path / "prompts.jsonl"
    bad.write_text('{"conversations": ["fine"]}\n{"conversations": 3}\n')
    with pytest.raises(GenerationError, match="prompts.jsonl:2"):
        create_generation_run(model_path=str(tmp_path), prompts_file=bad)
    assert not GenerationRun.objects.exists()


def test_the_engine_command_carries_every_stored_setting():
    run = GenerationRun(pk=1, name="m", model_path="/models/m", decoding={**SETTINGS.as_dict(), "do_sample": False},
                        seed=7, batch_size=4)

    command = engine_command(run, "p.jsonl", "o.jsonl")

    flags = dict(zip(command[3::2], command[4::2]))
    assert flags["--temperature"] == "1.3" and flags["--top-p"] == "0.5"
    assert flags["--repetition-penalty"] == "1.05" and flags["--max-new-tokens"] == "3"
    assert flags["--seed"] == "7" and flags["--batch-size"] == "4" and command[-1] == "--greedy"


# --- The engine subprocess ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_decoding_settings_reach_the_engine(tiny_checkpoint, generator):
    # given a run over the dev prompts with settings far from LIMA's
    version = make_version()
    run = create_generation_run(model_path=str(tiny_checkpoint), dataset_version=version, split="dev",
                                decoding=SETTINGS, seed=7, batch_size=2, run_async=False)

    # then it stored them, and its responses are what the engine gives with exactly these settings
    assert run.status == "succeeded", run.error
    assert run.decoding == SETTINGS.as_dict()
    stored = list(run.generations.order_by("position"))
    prompts = [g.prompt for g in stored]
    assert [g.response for g in stored] == generator.generate(prompts, SETTINGS, seed=7, batch_size=2)
    lima = generator.generate(prompts, DecodingSettings(), seed=7, batch_size=2)
    assert [g.response for g in stored] != lima  # the settings made a difference
    assert run.done == run.total == len(DEV_CHATS)


@pytest.mark.django_db
def test_a_model_folder_that_is_no_model_fails_the_run_with_the_engines_message(tmp_path):
    version = make_version()
    folder = tmp_path / "not-a-model"
    folder.mkdir()

    run = create_generation_run(model_path=str(folder), dataset_version=version, split="dev", run_async=False)

    assert run.status == "failed"
    assert "tokenizer" in run.error and "Traceback" not in run.error  # the engine's own message, not a dump
    assert not run.generations.exists()


@pytest.mark.django_db
def test_a_running_run_asked_to_cancel_is_flagged_for_its_worker_and_a_finished_one_is_refused(tmp_path):
    version = make_version()
    running = create_generation_run(model_path=str(tmp_path), dataset_version=version, split="dev")
    GenerationRun.objects.filter(pk=running.pk).update(status="running", attempt=1)

    running = cancel_generation_run(running)

    assert (running.status, running.cancel_requested) == ("running", True)  # its worker stops the engine
    GenerationRun.objects.filter(pk=running.pk).update(status="succeeded")
    with pytest.raises(GenerationError, match="is succeeded: there is nothing to cancel"):
        cancel_generation_run(running)


@pytest.mark.django_db
def test_a_queued_run_is_cancelled_at_once_and_never_starts(tmp_path):
    version = make_version()
    run = create_generation_run(model_path=str(tmp_path), dataset_version=version, split="dev")

    cancel_generation_run(run)
    run_here(run)

    run.refresh_from_db()
    assert run.status == "cancelled" and run.started_at is None


@pytest.mark.django_db
def test_checkpoint_selection_starts_one_run_per_checkpoint_on_the_dev_split(tmp_path):
    version = make_version()
    training = make_training_run(version, tmp_path, epochs=(4, 5, 6, 11))

    runs = start_checkpoint_selection(training, epochs=(5, 10), seed=3)

    assert [r.checkpoint.epoch for r in runs] == [5, 6]
    assert {(r.split, r.seed, r.dataset_version_id, r.status) for r in runs} == {("dev", 3, version.pk, "queued")}


@pytest.mark.django_db
def test_the_selection_form_queues_the_runs_and_leads_to_the_study_form(client_of, alice, tmp_path):
    version = make_version()
    training = make_training_run(version, tmp_path, epochs=(5, 6))
    client = client_of(alice)
    form = {"action": "select", "training_run": training.pk, "split": "dev", "first_epoch": 5, "last_epoch": 10,
            "seed": 0, "temperature": 0.7, "top_p": 0.9, "repetition_penalty": 1.2, "max_new_tokens": 2048}

    answer = client.post("/generations/", form)

    runs = list(GenerationRun.objects.order_by("pk"))
    assert [r.checkpoint.epoch for r in runs] == [5, 6]
    assert answer["Location"] == f"/studies/new/?runs={runs[0].pk},{runs[1].pk}"
    assert "Still generating" in client.get(answer["Location"]).content.decode()


# --- Imported responses ---------------------------------------------------------------------------------


def write_lines(path, rows):
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


@pytest.mark.django_db
def test_imported_responses_keyed_by_example_id_take_their_prompts_from_the_version(tmp_path):
    version = make_version()
    ids = [str(i.example_id) for i in version.items.filter(split="test")]
    path = write_lines(tmp_path / "gpt.jsonl", [{"id": int(k), "response": f"r{k}", "model": "GPT-4"} for k in ids])

    run = import_responses(path, dataset_version=version, split="test")

    assert (run.name, run.kind, run.status, run.total) == ("GPT-4", "external", "succeeded", 2)
    second = run.generations.get(prompt_key=ids[1])
    assert second.prompt == ["Why is the sky blue?", "Rayleigh scattering.", "Explain it to a child."]
    assert second.dataset_item.example_id == int(ids[1])


@pytest.mark.django_db
def test_a_bad_response_file_is_refused_whole_naming_the_line(tmp_path):
    version = make_version()
    known = version.items.filter(split="dev").first().example_id
    cases = [
        ([{"id": known, "response": "ok"}, {"id": known, "response": "again"}], "gpt.jsonl:2: prompt id"),
        ([{"id": known, "response": "ok"}, {"id": 999999, "response": "x"}], "gpt.jsonl:2: prompt id '999999' is not"),
        ([{"id": known}], "gpt.jsonl:1: 'response'"),
    ]
    for rows, message in cases:
        with pytest.raises(GenerationError, match=message):
            import_responses(write_lines(tmp_path / "gpt.jsonl", rows), name="GPT-4", dataset_version=version)
    with pytest.raises(GenerationError, match="gpt.jsonl:1: no prompt"):
        import_responses(write_lines(tmp_path / "gpt.jsonl", [{"id": "a", "response": "x"}]), name="GPT-4")
    with pytest.raises(GenerationError, match="name the model"):
        import_responses(write_lines(tmp_path / "gpt.jsonl", [{"id": "a", "prompt": "p", "response": "x"}]))
    assert not GenerationRun.objects.exists() and not Generation.objects.exists()


# --- Commands -------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_generate_command_runs_a_checkpoint_over_a_prompt_file(tiny_checkpoint, tmp_path, generator):
    from django.core.management import call_command

    prompts = write_lines(tmp_path / "prompts.jsonl", [{"id": "coffee", "conversations": ["How do I brew coffee?"]}])
    out = io.StringIO()

    call_command("generate", "--model", str(tiny_checkpoint), "--prompts", str(prompts), "--greedy",
                 "--max-new-tokens", "12", "--name", "tiny", stdout=out)

    run = GenerationRun.objects.get()
    assert "1 responses" in out.getvalue() and run.name == "tiny" and run.decoding["do_sample"] is False
    greedy = DecodingSettings(max_new_tokens=12, do_sample=False)
    assert run.generations.get().response == generator.generate([["How do I brew coffee?"]], greedy)[0]


@pytest.mark.django_db
def test_the_import_command_names_the_bad_line(tmp_path):
    from django.core.management import CommandError, call_command

    good = write_lines(tmp_path / "alpaca.jsonl", [{"id": "q1", "prompt": "Hi?", "response": "Hello.", "model": "Alpaca"}])
    call_command("import_responses", str(good), stdout=io.StringIO())
    assert GenerationRun.objects.get().name == "Alpaca"

    bad = write_lines(tmp_path / "bad.jsonl", [{"id": "q1", "prompt": "Hi?", "response": 3}])
    with pytest.raises(CommandError, match="bad.jsonl:1: 'response' must be a string"):
        call_command("import_responses", str(bad), "--name", "X")


# --- Pages ----------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_generations_page_lists_runs_and_only_admins_start_them(client, client_of, alice, bob, charlie, tmp_path):
    version = make_version()
    form = {"action": "generate", "model_path": str(tmp_path), "dataset_version": version.pk, "split": "test",
            "temperature": 0.9, "top_p": 0.8, "repetition_penalty": 1.1, "max_new_tokens": 64, "seed": 5,
            "batch_size": 8}

    assert client.get("/generations/").status_code == 302
    assert client_of(charlie).get("/generations/").status_code == 403
    assert client_of(bob).get("/generations/").status_code == 403  # annotators judge blind
    assert client_of(bob).post("/generations/", form).status_code == 403
    answer = client_of(alice).post("/generations/", form)

    run = GenerationRun.objects.get()
    assert answer.status_code == 302 and answer["Location"] == f"/generations/{run.pk}/"
    assert run.decoding == {"top_p": 0.8, "temperature": 0.9, "repetition_penalty": 1.1, "max_new_tokens": 64,
                            "min_new_tokens": 0, "do_sample": True}
    assert (run.split, run.seed, run.batch_size, run.total, run.created_by) == ("test", 5, 8, 2, alice)
    assert f"/generations/{run.pk}/" in client_of(alice).get("/generations/").content.decode()


@pytest.mark.django_db
def test_the_import_form_reports_the_files_error(client_of, alice):
    from django.core.files.uploadedfile import SimpleUploadedFile

    upload = SimpleUploadedFile("alpaca.jsonl", b'{"id": "1", "response": "x"}\n{"id": 2, "response": "y"}\n')
    answer = client_of(alice).post("/generations/", {"action": "import", "responses": upload, "name": "Alpaca"})

    assert answer.status_code == 200
    assert "alpaca.jsonl:1: no prompt" in answer.content.decode()
    assert not GenerationRun.objects.exists()


@pytest.mark.django_db
def test_a_runs_page_links_its_lineage(client_of, alice, tmp_path):
    from tests.inference.builders import make_run

    version = make_version()
    training = make_training_run(version, tmp_path, epochs=(5,))
    keys = {str(i.example_id): "Paris." for i in version.items.filter(split="dev")}
    run = make_run("epoch 5", keys, checkpoint=training.checkpoints.get(), version=version, kind="model")

    html = client_of(alice).get(f"/generations/{run.pk}/").content.decode()

    assert f'href="/training/{training.pk}/"' in html and f'href="/datasets/{version.pk}/"' in html
    example = run.generations.first().dataset_item.example_id
    assert f'href="/examples/{example}/"' in html
    assert "Paris." in html


# --- Through a real worker ------------------------------------------------------------------------------


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_run_on_the_gpu_queue_completes_with_its_generations(celery_worker, tiny_checkpoint, roles, settings):
    # The worker process has its own settings: it writes under the default MEDIA_ROOT, like production.
    from django.conf import settings as live

    settings.MEDIA_ROOT = live.VAR_DIR / "media"
    version = make_version()
    training = make_training_run(version, tiny_checkpoint, epochs=(5,))

    run = create_generation_run(checkpoint=training.checkpoints.get(), dataset_version=version, split="test",
                                decoding=DecodingSettings(max_new_tokens=16), seed=1)

    deadline = time.monotonic() + 180
    while run.is_active and time.monotonic() < deadline:
        time.sleep(0.5)
        run.refresh_from_db()
    assert run.status == "succeeded", run.error
    generations = list(run.generations.order_by("position"))
    assert len(generations) == 2 and run.done == 2
    assert all(g.model_name == "tiny run · epoch 5" for g in generations)
    assert {g.dataset_item.split for g in generations} == {"test"}
    assert run.started_at and run.finished_at and run.model_path == str(tiny_checkpoint)
    assert all(g.finish_reason in ("stop", "length") and g.completion_tokens for g in generations)
    assert run.completion_tokens == sum(g.completion_tokens for g in generations) and run.prompt_tokens > 0
