"""manage.py compute_signals SIGNAL [--wait | --here] [--everything] [--json]"""
import json
import time

from django.core.management.base import BaseCommand, CommandError

from curation.signals.jobs import SignalError, start_run
from curation.signals.models import SIGNALS, SignalRun


class Command(BaseCommand):
    help = ("Start a run of SIGNAL (embedding, length_percentile, style, ifd) over every example whose value is "
            "missing or stale. Its shards go to the workers; --wait follows it to the end, --here computes it in "
            "this process (no worker needed).")

    def add_arguments(self, parser):
        parser.add_argument("signal", choices=SIGNALS)
        parser.add_argument("--wait", action="store_true", help="Follow the run until it ends")
        parser.add_argument("--here", action="store_true", help="Compute in this process, shard after shard")
        parser.add_argument("--everything", action="store_true", help="Recompute values that are fresh too")
        parser.add_argument("--json", action="store_true", dest="as_json",
                            help='Last line: {"run": id, "status": ..., "done": n, "total": n, "error": ...}')

    def handle(self, *args, signal, wait, here, everything, as_json, **options):
        try:
            run = start_run(signal, run_async=not here, everything=everything)
        except SignalError as error:
            raise CommandError(str(error)) from error
        if not here:
            self.stderr.write(f"Signal run #{run.pk} ({signal}) queued; /signals/ shows its progress.")
        if wait and not here:
            shown = None
            while run.is_active:
                time.sleep(1)
                run.refresh_from_db()
                if run.progress_text != shown:
                    shown = run.progress_text
                    self.stderr.write(f"  {run.status} {run.phase} {shown}")
        summary = {"run": run.pk, "status": run.status, "done": run.done, "total": run.total, "error": run.error}
        self.stdout.write(json.dumps(summary) if as_json else
                          f"Signal run #{run.pk} {signal}: {run.status}, {run.done:,} / {run.total:,} examples"
                          + (f" — {run.error}" if run.error else ""))
        if (wait or here) and run.status != SignalRun.Status.SUCCEEDED:
            raise CommandError(f"Signal run #{run.pk} ended {run.status}.")
