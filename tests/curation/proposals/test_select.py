"""Choosing a set within quotas: good examples, unlike each other, one per duplicate cluster, deterministic."""
import numpy as np

from curation.proposals.select import Candidates, coverage, k_centre_greedy, propose


def unit(rows):
    rows = np.asarray(rows, dtype=np.float32)
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def test_k_centre_picks_the_far_apart_points_before_a_second_of_the_same_kind():
    # three tight groups of points: three picks take one of each
    rng = np.random.default_rng(0)
    centres = unit([[1, 0, 0], [0, 1, 0], [0, 0, 1]])
    vectors = unit(np.repeat(centres, 10, axis=0) + rng.normal(0, 0.05, (30, 3)))

    picked = k_centre_greedy(vectors, np.zeros(30), 3, quality_weight=0.0)

    assert sorted(i // 10 for i in picked) == [0, 1, 2]


def test_quality_decides_among_equally_new_points_and_the_weight_trades_it_for_diversity():
    vectors = unit([[1, 0], [1, 0.01], [0, 1]])
    quality = np.array([0.2, 0.9, 0.1])

    assert k_centre_greedy(vectors, quality, 1)[0] == 1  # the best first
    assert k_centre_greedy(vectors, quality, 2, quality_weight=0.3) == [1, 2]  # then the far one, though worse
    assert k_centre_greedy(vectors, quality, 2, quality_weight=1.0) == [1, 0]  # quality alone: the near twin


def test_one_example_per_duplicate_cluster():
    vectors = unit([[1, 0], [0.9, 0.1], [0, 1], [0.1, 0.9]])
    clusters = np.array([7, 7, -1, -1])

    picked = k_centre_greedy(vectors, np.array([1.0, 0.9, 0.1, 0.1]), 3, clusters=clusters, quality_weight=1.0)

    assert picked[0] == 0 and 1 not in picked and len(picked) == 3


def test_quotas_are_honoured_per_group_and_a_short_group_says_so():
    rng = np.random.default_rng(1)
    n = 60
    groups = ["wikihow"] * 40 + ["se_stem"] * 15 + ["ni"] * 5
    candidates = Candidates(ids=np.arange(100, 100 + n), groups=groups, quality=rng.random(n),
                            vectors=unit(rng.normal(size=(n, 8))))

    chosen = propose(candidates, {"wikihow": 10, "se_stem": 10, "ni": 10})

    assert [len(chosen.by_group[g]) for g in ("wikihow", "se_stem", "ni")] == [10, 10, 5]
    assert chosen.shortfall == {"ni": 5}
    assert set(chosen.by_group["ni"]) == set(range(155, 160))
    assert len(set(chosen.ids)) == 25 and 0 < chosen.coverage <= 1
    assert propose(candidates, {"wikihow": 10, "se_stem": 10, "ni": 10}).ids == chosen.ids  # deterministic


def test_a_diverse_set_covers_the_space_better_than_the_best_scored_alone():
    rng = np.random.default_rng(2)
    # one crowded topic with high scores and nine sparse ones
    crowded = unit(np.array([1.0] + [0] * 9) + rng.normal(0, 0.05, (200, 10)))
    sparse = unit(np.eye(10)[1:].repeat(5, axis=0) + rng.normal(0, 0.05, (45, 10)))
    vectors = np.vstack([crowded, sparse]).astype(np.float32)
    quality = np.concatenate([np.full(200, 0.9), np.full(45, 0.6)])

    diverse = k_centre_greedy(vectors, quality, 20, quality_weight=0.5)
    by_score = list(np.argsort(-quality, kind="stable")[:20])

    assert coverage(vectors, diverse) > coverage(vectors, by_score) + 0.1
    assert {int(np.argmax(vectors[i])) for i in diverse} == set(range(10))  # every topic, not the crowded one only
