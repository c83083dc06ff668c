import json

from django.core.management.base import BaseCommand, CommandError

from curation.datasets.exports import SPLITS
from curation.datasets.versions import DuplicateTrainExamples, FreezeError, Selection, freeze_version
from curation.models import Example


class Command(BaseCommand):
    help = (
        "Freeze the current revisions of a selection as a dataset version (default: every approved example). "
        "With --json the last line of stdout is {\"id\": n, \"hash\": \"...\", \"examples\": n}."
    )

    def add_arguments(self, parser):
        parser.add_argument("name")
        parser.add_argument("--description", default="")
        parser.add_argument(
            "--status", default=Example.Status.APPROVED, choices=[*Example.Status.values, "any"],
            help="status of the examples to freeze (default approved; 'any' for all)",
        )
        parser.add_argument("--source", action="append", default=[], help="source kind or id (repeatable)")
        parser.add_argument("--domain", action="append", default=[], help="repeatable")
        parser.add_argument("--split", action="append", default=[], choices=SPLITS, help="repeatable")
        parser.add_argument("--tag", action="append", default=[], help="examples with any of these tags (repeatable)")
        parser.add_argument("--json", action="store_true", dest="as_json", help="end with one JSON line: id, hash, examples")

    def handle(self, *args, name, description, status, source, domain, split, tag, as_json, **options):
        try:
            selection = Selection.from_dict(
                {"status": status, "sources": source, "domains": domain, "splits": split, "tags": tag}
            )
            frozen = freeze_version(name, selection=selection, description=description)
        except DuplicateTrainExamples as error:
            raise CommandError(str(error)) from error
        except FreezeError as error:
            raise CommandError(f"{error.field}: {error}") from error
        version = frozen.version
        for overlap in frozen.overlaps:
            self.stderr.write(
                f"warning: {overlap.eval_split} example #{overlap.eval_key} appears in train example "
                f"#{overlap.train_key} ({overlap.kind}"
                + (f", {overlap.shared_ngrams}/{overlap.prompt_ngrams} 13-grams" if overlap.kind == "near" else "")
                + ")"
            )
        by_split = ", ".join(f"{n} {s}" for s, n in version.manifest.get("by_split", {}).items())
        self.stdout.write(f"Froze version #{version.pk} {version.name!r}: {version.example_count} examples ({by_split}).")
        self.stdout.write(f"sha256 {version.content_hash}")
        if as_json:
            self.stdout.write(json.dumps({"id": version.pk, "hash": version.content_hash, "examples": version.example_count}))
