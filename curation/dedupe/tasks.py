"""Celery beat's call: a duplicate search when examples were written or edited since the last (imports start one
themselves; people's edits, writes and reverts are picked up here, every DEDUPE_STALE_SECONDS)."""
from celery import shared_task


@shared_task(name="curation.dedupe_if_stale")
def dedupe_if_stale():
    from curation.dedupe.jobs import start_dedupe
    from curation.dedupe.signatures import stale_examples

    if not stale_examples().exists():
        return None
    return start_dedupe("examples written or edited since the last search").pk
