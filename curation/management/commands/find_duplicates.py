"""Find near-duplicate examples (MinHash LSH over prompts and responses) and store the clusters /duplicates/ shows."""
import json

from django.core.management.base import BaseCommand, CommandError

from curation.dedupe import index


class Command(BaseCommand):
    help = (
        "Sign new and changed examples, then cluster near-duplicate prompts and responses (MinHash LSH) and store "
        "the clusters. --json ends with one line {\"clusters\": [[example ids...], ...]}."
    )
    requires_system_checks = []  # the URLconf's inference engine (torch) is not needed here

    def add_arguments(self, parser):
        parser.add_argument("--threshold", type=float,
                            help="Estimated Jaccard similarity for prompts and responses alike (default: the "
                                 "DEDUPE_PROMPT_THRESHOLD and DEDUPE_RESPONSE_THRESHOLD settings)")
        parser.add_argument("--json", dest="as_json", action="store_true", help="End with the clusters as JSON")

    def handle(self, *args, threshold, as_json, **options):
        if threshold is not None and not 0.0 < threshold <= 1.0:
            raise CommandError("--threshold: a similarity above 0 and at most 1, e.g. 0.7.")

        def on_progress(done, total):
            self.stderr.write(f"signed {done} of {total}")

        clusters = index.refresh(on_progress=on_progress, threshold=threshold)
        self.stdout.write(f"{len(clusters)} cluster(s) of {sum(map(len, clusters))} examples.")
        for members in clusters[:20]:
            self.stdout.write("  " + " ~ ".join(f"#{pk}" for pk in members))
        if as_json:
            self.stdout.write(json.dumps({"clusters": clusters}, separators=(",", ":")))
