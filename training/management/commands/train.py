"""manage.py train DATASET_VERSION --base-model PATH [--set key=value ...] [--wait] [--json]"""
import argparse
import json
import sys
import time

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from curation.models import DatasetVersion
from training.models import TrainingRun
from training.services import TrainingError, result_of, start_training_run

QUEUED_WARNING_SECONDS = 30


def parse_sets(pairs):
    """["epochs=2", "lora=true"] -> {"epochs": "2", "lora": "true"}; the recipe coerces the strings."""
    overrides = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise CommandError(f"--set {pair!r}: expected key=value, e.g. --set epochs=3")
        overrides[key.strip()] = value.strip()
    return overrides


def find_version(ref):
    versions = DatasetVersion.objects.all()
    found = list(versions.filter(pk=int(ref))) if ref.isdigit() else list(versions.filter(name=ref))
    if not found:
        raise CommandError(f"No dataset version {ref!r} (give its id, or its exact name).")
    if len(found) > 1:
        raise CommandError(f"{len(found)} versions are named {ref!r}: give the id ({', '.join(str(v.pk) for v in found)}).")
    return found[0]


class Command(BaseCommand):
    help = ("Start a training run of a frozen dataset version on the gpu queue (LIMA's recipe, changed with --set); "
            "--wait follows it to the end.")

    def add_arguments(self, parser):
        parser.add_argument("dataset_version", help="Id (or exact name) of a ready dataset version")
        parser.add_argument("--base-model", required=True, help="A local model folder or a Hugging Face id")
        parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", dest="sets",
                            help="Override a recipe value, e.g. --set epochs=3 --set batch_size=8 (repeatable; see "
                                 "python -m training.engine --show-recipe)")
        parser.add_argument("--name", default="", help="A name for the run")
        parser.add_argument("--user", help="Username recorded as the run's author")
        parser.add_argument("--wait", action="store_true", help="Follow the run until it ends")
        parser.add_argument("--json", action="store_true", dest="as_json",
                            help='Machine-readable: the last stdout line is {"training_run", "status", "checkpoints", "loss"}')
        parser.add_argument("--timeout", type=float, help="With --wait: stop waiting after this many seconds (the run goes on)")
        parser.add_argument("--poll", type=float, default=1.0, help=argparse.SUPPRESS)

    def handle(self, *args, dataset_version, base_model, sets, name, user, wait, as_json, timeout, poll, **options):
        author = None
        if user:
            author = get_user_model().objects.filter(username=user).first()
            if author is None:
                raise CommandError(f"No user {user!r}.")
        try:
            run = start_training_run(find_version(dataset_version), base_model, parse_sets(sets), user=author, name=name)
        except TrainingError as error:
            raise CommandError(str(error)) from None
        progress = self.stderr if as_json else self.stdout
        progress.write(f"Training run #{run.pk} queued on the gpu queue: {run.output_dir}")
        if wait:
            run = self.follow(run, progress, timeout, poll)
        if as_json:
            self.stdout.write(json.dumps(result_of(run)))
        elif run.status == TrainingRun.Status.SUCCEEDED:
            losses = ", ".join(f"{loss:.4f}" for loss in run.epoch_losses)
            self.stdout.write(self.style.SUCCESS(f"Run #{run.pk} succeeded. Loss per epoch: {losses}"))
            for checkpoint in run.checkpoints.order_by("epoch"):
                self.stdout.write(f"  epoch {checkpoint.epoch}: {checkpoint.path}")
        if wait and run.status != TrainingRun.Status.SUCCEEDED:
            raise CommandError(f"Run #{run.pk} {run.status}" + (f": {run.error}" if run.error else "."))

    def follow(self, run, progress, timeout, poll):
        started, warned, last = time.monotonic(), False, None
        try:
            while True:
                run = TrainingRun.objects.get(pk=run.pk)
                line = describe(run)
                if line != last:
                    progress.write(line)
                    last = line
                if run.status in TrainingRun.FINISHED:
                    return run
                waited = time.monotonic() - started
                if run.status == TrainingRun.Status.QUEUED and waited > QUEUED_WARNING_SECONDS and not warned:
                    progress.write("Still queued: is a gpu worker running? (celery -A config worker -Q gpu -c 1)")
                    warned = True
                if timeout is not None and waited > timeout:
                    raise CommandError(f"Stopped waiting after {timeout:g} s; run #{run.pk} is {run.status} and goes on.")
                time.sleep(poll)
        except KeyboardInterrupt:
            progress.write(f"Stopped waiting; run #{run.pk} goes on (see /training/{run.pk}/).")
            sys.exit(130)


def describe(run):
    parts = [f"run #{run.pk} {run.status}"]
    if run.total_steps:
        parts.append(f"epoch {run.epoch}/{run.epochs} step {run.step}/{run.total_steps}")
    if run.epoch_losses:
        parts.append(f"epoch loss {run.epoch_losses[-1]:.4f}")
    return " · ".join(parts)

