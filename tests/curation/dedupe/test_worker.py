"""A duplicate search runs on a real worker after an import: the import's new examples are signed and clustered."""
import pytest

from curation.dedupe.clusters import cluster_map
from curation.dedupe.models import DedupeRun
from curation.services import create_example
from tests.curation.dedupe.texts import COFFEE, spaced
from tests.curation.test_worker import wait_for_end

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker]


def test_an_import_on_the_worker_is_followed_by_a_search_that_clusters_its_examples(celery_worker, tmp_path):
    from curation.imports.ingest import start_import
    from tests.curation.imports.builders import import_finished, write_jsonl

    existing = create_example(turns=list(COFFEE))
    # not an exact duplicate (that would be linked at import): a near one
    path = write_jsonl(tmp_path / "chats.jsonl", [{"conversations": ["How long do I let a cafetière steep?",
                                                                     spaced(COFFEE[1]) + " Enjoy."], "source": ""}])
    import_finished(start_import("jsonl", path))  # and the search it queued

    search = wait_for_end(DedupeRun.objects.get())

    assert search.status == "succeeded" and search.reason.startswith("import #") and search.phase == ""
    # the import signed the existing example (its exact keys); the search, the new one
    assert (search.signed, search.clusters, search.clustered) == (1, 1, 2)
    assert existing.pk in cluster_map() and len(cluster_map()) == 2
