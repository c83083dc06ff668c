"""`make demo-train`: the tiny model trained on the demo dataset end to end, through a gpu worker.

    python -m training.demo [--model var/models/tiny-demo] [--set key=value ...]
    python -m training.demo --model-only [--model DIR]     # only build the tiny model (`make run` does this)

1. loads the demo dataset (curation/demo) if it is not there yet;
2. builds the tiny LLaMA into var/models/tiny-demo from the demo dataset's text, if absent;
3. freezes the approved hand-written examples as a dataset version (`manage.py freeze_dataset`), or
   reuses the version an earlier demo froze;
4. starts a gpu worker in the background (`celery -A config worker -Q gpu -c 1`) unless one answers;
5. runs `manage.py train VERSION --base-model var/models/tiny-demo ... --wait` and prints the result.
The run shows on /training/ like any other; the worker keeps running afterwards (its pid file and log
are under var/celery/).
"""
import argparse
import io
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

DEMO_VERSION_NAME = "Demo dataset (make demo-train)"
TINY_MODEL_NAME = "tiny-demo"  # VAR_DIR/models/tiny-demo: built by `make run`, the form's default base model
REPO = Path(__file__).resolve().parent.parent
DEMO_CORPUS = REPO / "curation" / "demo" / "demo_examples.jsonl"  # curation.demo_data.DEMO_FILE, without Django

# The quick demo (the run form's preset, and `make demo-train`): the tiny model visibly learning in under two
# minutes on a CPU. Not LIMA's numbers, which are for a pretrained 65B model: a randomly initialised 120k-parameter
# model needs a rate 300x larger, and a batch of 2 gives the 26 demo examples 13 steps an epoch instead of one.
# Everything else is LIMA's: max_length 2,048 (no demo example is trimmed), dropout, AdamW, linear decay, and
# checkpoints from epoch 5, so the 10 epochs end inside LIMA's 5-10 window. Measured on the 26 demo train examples,
# a shared 2-core CPU under a load of 3-4 (tests/training/test_runner_local.py prints it): loss 6.24 -> 4.46 at
# the last of 130 steps (epoch means 5.77 -> 4.29); the job took 107 s from claim to end through the runner with
# torch's 2 threads; the engine alone 87 s, or 60 s with OMP_NUM_THREADS=1.
QUICK_DEMO = {"epochs": 10, "batch_size": 2, "micro_batch_size": 2, "learning_rate": 3e-3, "final_learning_rate": 3e-4}
QUICK_DEMO_NOTE = (
    "Quick demo (not LIMA's recipe): 10 epochs at batch 2 and a learning rate of 3e-3 → 3e-4, for the tiny model "
    "built by make run. On the 26 demo train examples its loss falls from 6.24 to 4.46 (epoch means 5.77 → 4.29) in "
    "130 steps, 1–2 minutes on a shared 2-core CPU (107 s measured); checkpoints of epochs 5–10."
)
DEMO_RECIPE = QUICK_DEMO


def setup_django():
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import django

    django.setup()


def say(message):
    print(f"==> {message}", flush=True)


def ensure_demo_dataset():
    from core.roles import ensure_roles
    from curation.demo_data import DEMO_FILE, load_demo_dataset

    ensure_roles()
    created, existing = load_demo_dataset()
    say(f"demo dataset: {created} examples created, {existing} already there ({DEMO_FILE.name})")
    return DEMO_FILE


def ensure_tiny_model(model_dir, corpus):
    model_dir = Path(model_dir)
    if (model_dir / "config.json").is_file():
        say(f"tiny model: {model_dir} (already built)")
        return model_dir
    say(f"tiny model: building {model_dir} from the text of {corpus.name}")
    # Built aside and renamed whole: an interrupted build never leaves a folder that looks like a model.
    partial = model_dir.with_name(f".{model_dir.name}.partial")
    shutil.rmtree(partial, ignore_errors=True)
    subprocess.run([sys.executable, "-m", "training.engine.tiny", str(partial), "--corpus", str(corpus)],
                   check=True, cwd=REPO, env={**os.environ, "HF_HUB_OFFLINE": "1", "HF_HUB_DISABLE_PROGRESS_BARS": "1"}, stdout=subprocess.DEVNULL)
    shutil.rmtree(model_dir, ignore_errors=True)
    os.replace(partial, model_dir)
    return model_dir


def ensure_version():
    from django.core.management import call_command, get_commands

    from curation.demo_data import demo_source
    from curation.models import DatasetVersion

    existing = DatasetVersion.objects.filter(name=DEMO_VERSION_NAME, status=DatasetVersion.Status.READY).first()
    if existing:
        say(f"dataset version: #{existing.pk} {existing.name!r} (frozen by an earlier demo)")
        return existing
    if "freeze_dataset" in get_commands():
        out = io.StringIO()
        call_command("freeze_dataset", DEMO_VERSION_NAME, "--source", str(demo_source().pk), "--json", stdout=out)
        version = DatasetVersion.objects.get(pk=json.loads(out.getvalue().strip().splitlines()[-1])["id"])
    else:
        from curation.datasets.versions import Selection, freeze_version

        version = freeze_version(DEMO_VERSION_NAME, selection=Selection(sources=(str(demo_source().pk),))).version
    say(f"dataset version: froze #{version.pk} {version.name!r}, {version.example_count} examples")
    return version


def gpu_worker_running():
    from celery import current_app as app  # config.celery's, set up with Django

    from core.broker import ensure_broker_folders

    ensure_broker_folders()
    try:
        queues = app.control.inspect(timeout=2).active_queues() or {}
    except Exception:  # no broker answer at all
        return False
    return any(queue.get("name") == "gpu" for consumed in queues.values() for queue in consumed)


def ensure_gpu_worker():
    from django.conf import settings

    if gpu_worker_running():
        say("gpu worker: one is already running")
        return
    folder = Path(settings.VAR_DIR) / "celery"
    folder.mkdir(parents=True, exist_ok=True)
    pidfile, logfile = folder / "demo-gpu-worker.pid", folder / "demo-gpu-worker.log"
    celery = Path(sys.executable).with_name("celery")
    subprocess.run([str(celery), "-A", "config", "worker", "-Q", "gpu", "-c", "1", "-n", "demo-gpu@%h",
                    "--loglevel=info", "--detach", f"--pidfile={pidfile}", f"--logfile={logfile}"],
                   check=True, cwd=settings.BASE_DIR)
    deadline = time.monotonic() + 90
    while not gpu_worker_running():
        if time.monotonic() > deadline:
            raise SystemExit(f"the gpu worker did not come up: see {logfile}")
        time.sleep(1)
    say(f"gpu worker: started in the background (pid file {pidfile}, log {logfile}); stop it with kill $(cat {pidfile})")


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m training.demo", description="Train the tiny model on the demo dataset through a gpu worker.")
    parser.add_argument("--model", default="var/models/tiny-demo", help="where the tiny model is (built if absent)")
    parser.add_argument("--set", action="append", default=[], dest="sets", metavar="KEY=VALUE", help="recipe override (repeatable)")
    parser.add_argument("--model-only", action="store_true", help="only build the tiny model if it is absent (no database, no worker)")
    args = parser.parse_args(argv)
    if args.model_only:
        ensure_tiny_model(REPO / args.model, DEMO_CORPUS)
        return
    setup_django()
    from django.conf import settings
    from django.core.management import call_command

    corpus = ensure_demo_dataset()
    model = ensure_tiny_model(Path(settings.BASE_DIR) / args.model, corpus)
    version = ensure_version()
    ensure_gpu_worker()
    sets = [f"{key}={value}" for key, value in DEMO_RECIPE.items()] + args.sets
    say("training: manage.py train " + " ".join([str(version.pk), "--base-model", str(model), *(f"--set {s}" for s in sets), "--wait"]))
    call_command("train", str(version.pk), "--base-model", str(model), *[a for s in sets for a in ("--set", s)],
                 "--name", "Demo: tiny model", "--wait")
    say("done: open http://127.0.0.1:8000/training/ (make run) to see the run, its charts and checkpoints")


if __name__ == "__main__":
    main()
