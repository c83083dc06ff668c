"""Near-duplicate clusters on a hand-made set, and the incremental pass: only new or changed texts are signed."""
import pytest

from curation.dedupe import index, signatures
from curation.dedupe.clusters import annotate_clusters, cluster_map
from curation.dedupe.models import DuplicateCluster, ExampleSignature
from curation.models import Example
from curation.services import create_example, edit_example
from tests.curation.dedupe.texts import COFFEE, GIT, UNRELATED, one_word_changed, sentence_appended, spaced

pytestmark = pytest.mark.django_db


def example(prompt, response, **kwargs):
    return create_example(turns=[prompt, response], **kwargs)


def test_edits_of_one_answer_cluster_and_unrelated_texts_do_not():
    originals = [example(*pair) for pair in UNRELATED]
    prompt, answer = COFFEE
    whitespace = example(spaced(prompt), spaced(answer))
    word = example(prompt, one_word_changed(answer))
    appended = example(prompt, sentence_appended(answer))
    reworded = example("What is the right steeping time for a cafetière?", answer)

    clusters = index.refresh()

    coffee = sorted([originals[0].pk, whitespace.pk, word.pk, appended.pk, reworded.pk])
    assert clusters == [coffee]
    cluster = DuplicateCluster.objects.get()
    assert cluster.kind == "both" and cluster.size == 5  # prompts (whitespace, word, appended) and responses
    assert cluster_map() == {pk: cluster.pk for pk in coffee}
    annotated = {e.pk: (e.duplicate_cluster, e.duplicate_count) for e in annotate_clusters(Example.objects.all())}
    assert annotated[reworded.pk] == (cluster.pk, 4)
    assert all(annotated[o.pk] == (None, 0) for o in originals[1:])


def test_a_prompt_alone_clusters_by_its_prompt():
    first = create_example(turns=["Write a poem about the sea at night, in the voice of a lighthouse keeper."])
    second = create_example(turns=["Write a poem about the sea at night in the voice of a lighthouse keeper!"])
    create_example(turns=["Describe a market in Marrakesh at dawn through its smells."])

    assert index.refresh() == [[first.pk, second.pk]]
    assert DuplicateCluster.objects.get().kind == "prompt"


def test_a_lower_threshold_finds_more_and_a_higher_one_fewer(settings):
    prompt, answer = GIT
    a = example(prompt, answer)
    b = example(prompt.replace("git", "Git"), answer.replace("default", "usual").replace("untouched", "as it is"))

    assert index.refresh(threshold=0.5) == [[a.pk, b.pk]]
    assert index.refresh(threshold=1.0) == [[a.pk, b.pk]]  # the prompts still normalise the same
    settings.DEDUPE_PROMPT_THRESHOLD = settings.DEDUPE_RESPONSE_THRESHOLD = 1.0
    c = example("Undo a git commit but keep the edits?", answer.replace("default", "usual"))
    assert sorted(map(sorted, index.refresh())) == [sorted([a.pk, b.pk])]  # c's answer differs a little
    assert c.pk not in cluster_map()


def test_the_pass_signs_only_new_or_changed_examples():
    first, second, third = (example(*pair) for pair in UNRELATED[:3])
    assert signatures.update_stale() == 3
    before = {s.example_id: s.updated_at for s in ExampleSignature.objects.all()}

    assert signatures.update_stale() == 0
    edit_example(second, expected_version=second.version, author=None,
                 turns=[UNRELATED[1][0], sentence_appended(UNRELATED[1][1])])
    assert list(signatures.stale_examples().values_list("pk", flat=True)) == [second.pk]
    assert signatures.update_stale() == 1

    after = {s.example_id: s.updated_at for s in ExampleSignature.objects.all()}
    assert after[first.pk] == before[first.pk] and after[third.pk] == before[third.pk]
    assert after[second.pk] > before[second.pk]
    assert ExampleSignature.objects.get(example=second).content_hash == Example.objects.get(pk=second.pk).content_hash


def test_a_pass_replaces_the_clusters_of_the_last():
    prompt, answer = COFFEE
    a, b = example(prompt, answer), example(prompt, spaced(answer))
    assert index.refresh() == [[a.pk, b.pk]]

    edit_example(b, expected_version=b.version, author=None, turns=list(UNRELATED[3]))

    assert index.refresh() == [] and DuplicateCluster.objects.count() == 0


def test_many_examples_are_signed_by_processes_as_they_would_be_here(monkeypatch, settings):
    made = [example(*pair) for pair in UNRELATED] + [example(COFFEE[0], sentence_appended(COFFEE[1]))]
    monkeypatch.setattr(signatures, "CHUNK", 2)  # three chunks: the pool's path
    settings.DEDUPE_PROCESSES = 2

    assert signatures.update_stale() == 6
    pooled = {s.example_id: (s.prompt_minhash, s.response_minhash) for s in ExampleSignature.objects.all()}
    ExampleSignature.objects.all().delete()
    settings.DEDUPE_PROCESSES = 1
    assert signatures.update_stale() == 6

    here = {s.example_id: (s.prompt_minhash, s.response_minhash) for s in ExampleSignature.objects.all()}
    assert {pk: tuple(map(bytes, v)) for pk, v in pooled.items()} == {pk: tuple(map(bytes, v)) for pk, v in here.items()}
    assert sorted(pooled) == [e.pk for e in made]


def test_a_crowd_of_one_prompt_is_one_cluster():
    crowd = [create_example(turns=["Write a story about a lighthouse."]) for _ in range(150)]
    other = create_example(turns=["Explain how tides work, for a child."])

    [cluster] = index.refresh()

    assert cluster == [e.pk for e in crowd] and other.pk not in cluster_map()


def test_short_prompts_that_differ_are_different_questions():
    different = [create_example(turns=[f"Question {i}?"]) for i in range(1, 6)]
    haiku = [create_example(turns=[f"Write a haiku about {animal}."]) for animal in ("cats", "dogs", "herons")]
    same = [create_example(turns=["Write a haiku about cats!"])]  # the same question once normalised

    clusters = index.refresh()

    assert clusters == [sorted([haiku[0].pk, same[0].pk])]
    assert not {e.pk for e in different} & set(cluster_map())
