import os

from django.core.management.base import BaseCommand, CommandError
from django.db.models import Prefetch

from curation.datasets.formats import all_formats, get_format
from curation.datasets.formats.jsonl import jsonl_line
from curation.models import Example, Turn, source_kinds


class Command(BaseCommand):
    help = "Write live examples as JSONL (one conversation a line) to stdout or a file."

    def add_arguments(self, parser):
        # The JSONL formats: those that build one row from a conversation.
        parser.add_argument("--format", default="lima", choices=sorted(fmt.name for fmt in all_formats() if fmt.row))
        parser.add_argument("--status", choices=[c for c, _ in Example.Status.choices])
        parser.add_argument("--source", choices=[kind for kind, _ in source_kinds()], help="source kind")
        parser.add_argument("--out", help="file to write (default: stdout)")

    def handle(self, *args, format, status, source, out, **options):
        examples = Example.objects.select_related("source").order_by("pk")
        if status:
            examples = examples.filter(status=status)
        if source:
            examples = examples.filter(source__kind=source)
        examples = examples.prefetch_related(Prefetch("turns", queryset=Turn.objects.order_by("position")))
        make_row = get_format(format).row
        if out:
            try:
                # Written beside the target and renamed at the end: a failed export leaves no half file.
                stream = open(f"{out}.partial", "w", encoding="utf-8")
            except OSError as error:
                raise CommandError(f"Cannot write {out}: {error.strerror}") from error
            write = stream.write
        else:
            write = lambda text: self.stdout.write(text, ending="")  # noqa: E731 - lines carry their own newline
        count = 0
        try:
            for example in examples.iterator(chunk_size=500):
                turns = [turn.text for turn in example.turns.all()]
                write(jsonl_line(make_row(turns, example.source.kind)))
                count += 1
        except BaseException:
            if out:
                stream.close()
                os.unlink(f"{out}.partial")
            raise
        if out:
            stream.close()
            os.replace(f"{out}.partial", out)
            self.stderr.write(f"Wrote {count} examples to {out}.")
