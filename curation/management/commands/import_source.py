"""Import a source file as an ImportRun: in this process by default, or on the worker with --async."""
import json

from django.core.management.base import BaseCommand, CommandError

from curation.imports.ingest import AlreadyImported, ImportOptionError, start_import, summary
from curation.models import ImportRun
from curation.sources.plugins import importable_kinds


def _target(value):
    return value if value == "all" else int(value)


def _option(text):
    """KEY=VALUE, VALUE read as JSON when it is JSON (numbers, lists, true) and as text otherwise."""
    key, separator, value = text.partition("=")
    if not separator or not key:
        raise ValueError(text)
    try:
        return key, json.loads(value)
    except json.JSONDecodeError:
        return key, value


class Command(BaseCommand):
    help = (
        "Import a source file (Stack Exchange Posts.xml/.7z/folder, wikiHow CSV, Pushshift NDJSON/.zst, "
        "Super-NaturalInstructions task JSON, conversation JSONL) with LIMA's filters. Runs here unless --async; "
        "exits non-zero when the run failed."
    )
    # The system checks load every URLconf, and with it the inference engine (torch): seconds and hundreds
    # of MB that an import does not need. `manage.py check` still runs them.
    requires_system_checks = []

    def add_arguments(self, parser):
        parser.add_argument("kind", choices=importable_kinds())
        parser.add_argument("path")
        parser.add_argument("--name", help="Source name (default from the file: the exchange site, the subreddits...)")
        parser.add_argument("--seed", type=int, default=0, help="Same inputs and seed give the same selection")
        parser.add_argument("--target", type=_target, help='Examples to draw per group (Stack Exchange: STEM and other '
                            'each), or "all" to keep every accepted record')
        parser.add_argument("--tau", type=float, help="Sampling temperature across domains (LIMA: 3)")
        parser.add_argument("--option", type=_option, action="append", default=[], metavar="KEY=VALUE",
                            help='A parser option, e.g. --option subreddits=\'["AskWomen"]\' (repeatable)')
        parser.add_argument("--async", dest="run_async", action="store_true",
                            help="Hand the run to the Celery worker and print its id")
        parser.add_argument("--json", dest="as_json", action="store_true", help="End with one JSON line of counts")

    def handle(self, *args, kind, path, name, seed, target, tau, option, run_async, as_json, **rest):
        options = dict(option, seed=seed)
        if target is not None:
            options["target"] = target
        if tau is not None:
            options["tau"] = tau
        try:
            run = start_import(kind, path, name=name, options=options, run_async=run_async)
        except AlreadyImported as done:  # not an error: the content is in, as the earlier run left it
            self.stdout.write(str(done))
            if as_json:
                self.stdout.write(_json_line({**summary(done.run), "already_imported": True}))
            return
        except ImportOptionError as exc:
            raise CommandError(str(exc)) from exc
        if run_async:
            self.stdout.write(f"Import run #{run.pk} queued for the worker ({run.source.name}).")
        else:
            self._report(run)
        if as_json:
            self.stdout.write(_json_line(summary(run)))
        if run.status == ImportRun.Status.FAILED:
            raise CommandError(f"Import run #{run.pk} failed: {run.error}")

    def _report(self, run):
        self.stdout.write(
            f"Import run #{run.pk} {run.status}: {run.source.name} from {run.file}\n"
            f"  read {run.read_count}, accepted {run.accepted_count} (created {run.created_count}, "
            f"updated {run.updated_count}, unchanged {run.unchanged_count}, kept as people left them "
            f"{run.protected_count}), rejected {run.rejected_count}"
        )
        for reason, count in sorted(run.rejected_by_reason.items(), key=lambda item: -item[1]):
            self.stdout.write(f"    {reason}: {count}")


def _json_line(data):
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))
