"""The examples table with quality signals: sortable columns and filters, and a search box by meaning that ranks
rows by similarity and works with the full-text search."""
import re

import pytest

from curation.signals.jobs import start_run
from tests.curation.signals.conftest import TOPICS

pytestmark = pytest.mark.django_db


def rows_of(response):
    assert response.status_code == 200, response.content[:500]
    return [int(pk) for pk in re.findall(r'name="item" value="(\d+):\d+"', response.content.decode())]


def test_a_search_by_meaning_ranks_the_nearest_example_first(client_of, bob, topics):
    start_run("embedding", run_async=False)

    rows = rows_of(client_of(bob).get("/examples/", {"semantic": "my car has a flat wheel"}))

    assert rows[0] == topics["tyre"].pk
    assert set(rows) == {e.pk for e in topics.values()}


def test_words_and_meaning_together_keep_only_examples_with_the_words(client_of, bob, topics):
    start_run("embedding", run_async=False)

    rows = rows_of(client_of(bob).get("/examples/", {"semantic": "baking bread", "q": "loaf"}))

    assert rows == [topics["bread2"].pk]


def test_the_length_percentile_column_sorts_and_filters(client_of, bob, topics):
    start_run("length_percentile", run_async=False)
    web = client_of(bob)

    longest_first = rows_of(web.get("/examples/", {"sort": "-length_percentile"}))
    top = rows_of(web.get("/examples/", {"length_percentile": "top"}))

    longest = max(TOPICS, key=lambda name: len(TOPICS[name][1]))  # of the one source and domain
    assert longest_first[0] == topics[longest].pk
    assert topics[longest].pk in top and topics["python"].pk not in top  # the shortest answer
    page = web.get("/examples/").content.decode()
    assert "Long Is More for Alignment" in page and "From Quantity to Quality" in page
