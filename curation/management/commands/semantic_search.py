"""manage.py semantic_search "QUERY" [--k K] [--json]: the examples nearest a query's meaning."""
import json

from django.core.management.base import BaseCommand, CommandError

from curation.models import Example
from curation.signals.search import semantic_search


class Command(BaseCommand):
    help = ("The examples nearest QUERY in meaning (sentence embeddings; run `compute_signals embedding` first). "
            'With --json the last line is {"results": [{"id": ..., "score": ...}, ...]}.')

    def add_arguments(self, parser):
        parser.add_argument("query")
        parser.add_argument("--k", type=int, default=10, help="How many (default 10)")
        parser.add_argument("--json", action="store_true", dest="as_json")

    def handle(self, *args, query, k, as_json, **options):
        if not query.strip():
            raise CommandError("QUERY is empty: say what to look for.")
        if not 0 < k <= 10_000:
            raise CommandError("--k must be from 1 to 10,000.")
        hits = semantic_search(query, k=k)
        if as_json:
            self.stdout.write(json.dumps({"results": [{"id": pk, "score": score} for pk, score in hits]}))
            return
        lines = dict(Example.objects.filter(pk__in=[pk for pk, _ in hits]).values_list("pk", "summary__first_line"))
        for pk, score in hits:
            self.stdout.write(f"{score:6.3f}  #{pk:<8} {(lines.get(pk) or '')[:100]}")
        if not hits:
            self.stdout.write("No example has an embedding yet: run `python manage.py compute_signals embedding`.")
