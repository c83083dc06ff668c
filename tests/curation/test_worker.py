"""A task goes through the broker (Redis in CI, the filesystem broker otherwise) to a real worker process."""
import pytest

from curation.services import create_example
from curation.tasks import ping

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker]


def test_a_task_round_trips_through_a_real_worker_and_reads_the_database(celery_worker):
    create_example(turns=["Q?", "A."])
    create_example(turns=["Another?", "Yes."])

    result = ping.delay().get(timeout=30)

    assert result["pong"] is True
    assert result["examples"] == 2
    assert celery_worker.poll() is None
