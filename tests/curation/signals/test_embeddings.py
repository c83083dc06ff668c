"""Embeddings of each example's current text: computed by a run, stored normalised, stale after an edit and
computed again; the nearest example by meaning."""
import numpy as np
import pytest

from curation.models import Example
from curation.services import edit_example
from curation.signals.index import vectors_for
from curation.signals.jobs import start_run
from curation.signals.models import Embedding, SignalRun
from curation.signals.search import semantic_search, similar_examples

pytestmark = pytest.mark.django_db


def test_a_run_embeds_every_example_normalised_for_its_current_text(topics):
    run = start_run("embedding", run_async=False)

    assert run.status == SignalRun.Status.SUCCEEDED, run.error
    assert run.total == run.done == len(topics)
    vectors = vectors_for()
    assert sorted(vectors.ids) == sorted(e.pk for e in topics.values())
    assert vectors.matrix.dtype == np.float32 and vectors.matrix.shape == (len(topics), 384)
    np.testing.assert_allclose(np.linalg.norm(vectors.matrix, axis=1), 1.0, atol=1e-5)
    assert Embedding.objects.filter(model_name="all-MiniLM-L6-v2").count() == len(topics)


def test_an_edit_makes_the_embedding_stale_and_the_next_run_computes_only_it(topics, alice):
    start_run("embedding", run_async=False)
    bread = topics["bread"]
    before = Embedding.objects.get(example=bread).array.copy()

    # when the text changes
    edit_example(bread, expected_version=bread.version, author=alice,
                 turns=["How do I change the oil of my car?", "Drain the old oil, replace the filter and refill."])
    bread = Example.objects.get(pk=bread.pk)

    # then its embedding is no longer read, and the next run covers it alone
    assert bread.pk not in vectors_for().ids
    run = start_run("embedding", run_async=False)
    assert run.total == 1
    row = Embedding.objects.get(example=bread)
    assert row.content_hash == bread.content_hash
    assert not np.allclose(row.array, before)
    assert bread.pk in vectors_for().ids


def test_the_nearest_example_is_the_one_about_the_same_thing(topics):
    start_run("embedding", run_async=False)

    found = similar_examples(topics["bread"], k=2)

    assert found[0][0] == topics["bread2"].pk
    assert topics["bread"].pk not in [pk for pk, _ in found]
    assert found[0][1] > found[1][1]


def test_a_query_finds_examples_by_meaning_not_words(topics):
    start_run("embedding", run_async=False)

    found = semantic_search("my automobile has a puncture", k=3)

    assert found[0][0] == topics["tyre"].pk
    assert len(found) == 3 and all(-1 <= score <= 1 for _, score in found)


def test_a_hit_whose_text_changed_since_it_was_embedded_is_left_out(topics, alice):
    start_run("embedding", run_async=False)
    tyre = topics["tyre"]
    semantic_search("flat tyre", k=1)  # the index is now cached

    edit_example(tyre, expected_version=tyre.version, author=alice,
                 turns=["What is a good name for a cat?", "Miso, Pepper or Biscuit."])

    assert tyre.pk not in [pk for pk, _ in semantic_search("flat tyre", k=5)]


def test_the_cached_index_takes_new_and_replaced_embeddings_without_reading_all_again(topics, alice):
    from curation.signals.index import index_for

    start_run("embedding", run_async=False)
    first = index_for()
    tyre = topics["tyre"]

    # when one example changes and the next run embeds it again
    edit_example(tyre, expected_version=tyre.version, author=alice,
                 turns=["How do I stop my bread from going stale?", "Keep the loaf cut side down in a bread box."])
    start_run("embedding", run_async=False)

    # then the same index holds its new vector (the old row dead), and finds it by its new meaning
    index = index_for()
    assert index is first and index.live == len(topics) and index.dead >= 1
    hits = [pk for pk, _ in semantic_search("keeping bread fresh", k=1)]
    assert hits == [tyre.pk]


def test_embedding_and_ifd_shards_go_to_the_gpu_queue_only_when_it_is_configured(settings, topics):
    from core.jobs.kinds import kind_of
    from curation.signals.models import SignalShard

    kind = kind_of(SignalShard)
    shards = {signal: SignalShard(run=SignalRun.objects.create(signal=signal), number=1)
              for signal in ("embedding", "ifd", "style")}

    settings.SIGNALS_GPU_QUEUE = False
    assert {kind.queue_for(shard) for shard in shards.values()} == {"default"}
    settings.SIGNALS_GPU_QUEUE = True
    assert {signal: kind.queue_for(shard) for signal, shard in shards.items()} == {
        "embedding": "gpu", "ifd": "gpu", "style": "default"}
    assert kind_of(SignalRun).queue_for(next(iter(shards.values())).run) == "default"


def test_the_periodic_refresh_starts_a_run_only_when_something_is_stale(topics, alice, django_capture_on_commit_callbacks):
    from curation.signals.jobs import refresh_stale

    start_run("embedding", run_async=False)
    with django_capture_on_commit_callbacks(execute=False):  # queued, not sent: no worker here
        assert refresh_stale() == []  # everything fresh
        bread = topics["bread"]
        edit_example(bread, expected_version=bread.version, author=alice, turns=["Q?", "A new answer."])
        [run] = refresh_stale()
        assert run.signal == "embedding" and run.status == SignalRun.Status.QUEUED
        assert refresh_stale() == []  # one under way already
