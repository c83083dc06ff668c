"""Temperature sampling across domains, the balanced category-then-item draw and the STEM/other
mapping."""
import collections
import random
import tomllib

import pytest

from curation.imports.sampling import (
    NOT_SAMPLED,
    Candidate,
    balanced_sample,
    mark_not_sampled,
    select_records,
    temperature_sample,
    temperature_weights,
)
from curation.sources.records import Record
from curation.sources.stem_sites import SITE_GROUPS_FILE, is_meta_site, load_site_groups, niche_sites, site_group


def pool(domain, count, start=0):
    return [Candidate(f"{domain}/{i}", domain, rank=float(i)) for i in range(start, start + count)]


def test_weights_are_n_to_the_one_over_tau():
    weights = temperature_weights({"big": 1000, "small": 8, "empty": 0})

    assert weights == pytest.approx({"big": 10.0, "small": 2.0})
    assert temperature_weights({"a": 16, "b": 1}, tau=1) == {"a": 16.0, "b": 1.0}
    assert temperature_weights({"a": 16, "b": 1}, tau=None) == {"a": 1.0, "b": 1.0}
    with pytest.raises(ValueError):
        temperature_weights({"a": 1}, tau=0)


def test_domains_are_drawn_in_proportion_to_their_weight():
    candidates = pool("big", 10_000) + pool("small", 1_000)

    chosen = temperature_sample(candidates, 3000, tau=3, seed=1)

    small_share = sum(key.startswith("small/") for key in chosen) / len(chosen)
    expected = 1000 ** (1 / 3) / (1000 ** (1 / 3) + 10_000 ** (1 / 3))  # ~0.32; 0.09 by size alone
    assert abs(small_share - expected) < 0.03


def test_within_a_domain_the_best_ranked_come_first():
    chosen = temperature_sample(pool("a", 50), 5, seed=0)

    assert chosen == ["a/49", "a/48", "a/47", "a/46", "a/45"]


def test_an_exhausted_domain_drops_out_and_the_target_may_not_be_reached():
    chosen = temperature_sample(pool("a", 3) + pool("b", 40), 20, seed=0)

    assert sum(key.startswith("a/") for key in chosen) == 3 and len(chosen) == 20 == len(set(chosen))
    assert len(temperature_sample(pool("a", 3), 10, seed=0)) == 3
    assert temperature_sample([], 10) == []


def test_the_draw_depends_on_the_seed_and_not_on_the_order_of_candidates():
    candidates = pool("a", 30) + pool("b", 300) + pool("c", 5)
    shuffled = candidates[:]
    random.Random(7).shuffle(shuffled)

    first = temperature_sample(candidates, 40, seed=11, within="random")

    assert temperature_sample(shuffled, 40, seed=11, within="random") == first
    assert temperature_sample(candidates, 40, seed=12, within="random") != first


def test_within_must_be_top_or_random():
    with pytest.raises(ValueError):
        temperature_sample(pool("a", 3), 1, within="best")


def test_balanced_sampling_picks_a_category_then_an_item():
    candidates = pool("cooking", 1000) + pool("travel", 10) + pool("cars", 10)

    chosen = balanced_sample(candidates, 24, seed=3)

    per_category = collections.Counter(key.split("/")[0] for key in chosen)
    assert set(per_category) == {"cooking", "travel", "cars"}
    assert per_category["cooking"] < 16  # by size it would take 23 of the 24
    # Items are drawn at random, not the best-ranked first.
    cooking = sorted(int(key.split("/")[1]) for key in chosen if key.startswith("cooking/"))
    assert cooking != list(range(1000 - len(cooking), 1000))


# --- STEM / other ------------------------------------------------------------------------------

def test_the_shipped_mapping_has_both_groups_and_no_site_in_both():
    data = tomllib.loads(SITE_GROUPS_FILE.read_text(encoding="utf-8"))

    assert set(data) == {"stem", "other", "niche"}
    assert len(data["stem"]) >= 30 and len(data["other"]) >= 30
    assert not set(data["stem"]) & set(data["other"])


def test_the_shipped_mapping_covers_the_network_and_every_niche_site_is_in_a_group():
    data = tomllib.loads(SITE_GROUPS_FILE.read_text(encoding="utf-8"))
    groups = load_site_groups()

    # LIMA.md: 179 exchanges (75 STEM, 99 other, 5 niche); the dump holds about as many sites today.
    assert len(groups) >= 179
    assert {"coffee", "conlang", "french", "cooking", "travel", "english"} <= {s for s, g in groups.items() if g == "other"}
    assert {"stackoverflow.com", "math", "physics", "es.stackoverflow.com"} <= {s for s, g in groups.items() if g == "stem"}
    assert set(niche_sites()) == set(data["niche"])
    assert all(site in groups for site in niche_sites())


@pytest.mark.parametrize("site, meta", [
    ("meta.stackexchange.com", True), ("french.meta.stackexchange.com", True), ("meta.stackoverflow.com", True),
    ("meta.mathoverflow.net", True), ("metafilter.stackexchange.com", False), ("coffee.stackexchange.com", False),
])
def test_meta_sites_are_told_by_their_domain(site, meta):
    assert is_meta_site(site) is meta


@pytest.mark.parametrize("site, group", [
    ("math.stackexchange.com", "stem"),
    ("stackoverflow.com", "stem"),
    ("https://physics.stackexchange.com/", "stem"),
    ("coffee.stackexchange.com", "other"),
    ("cooking", "other"),
    ("knitting.stackexchange.com", "other"),  # unknown
    ("math.meta.stackexchange.com", "other"),  # meta sites are about the site
    ("meta.stackoverflow.com", "other"),
])
def test_sites_fall_in_their_group(site, group):
    assert site_group(site) == group


def test_an_edited_mapping_overrides_the_shipped_one(tmp_path):
    mapping = tmp_path / "groups.toml"
    mapping.write_text('stem = ["coffee"]\nother = ["math.stackexchange.com"]\n', encoding="utf-8")

    groups = load_site_groups(mapping)

    assert site_group("coffee.stackexchange.com", groups) == "stem"
    assert site_group("math.stackexchange.com", groups) == "other"


# --- Selecting records -------------------------------------------------------------------------

def se_record(site, number, *, score=0, reason=None):
    return Record(f"{site}/questions/{number}", ["Q?", "A."], site, {"question_score": score},
                  reject_reason=reason)


def test_select_records_draws_each_group_to_its_target_from_accepted_records_only():
    records = (
        [se_record("math.stackexchange.com", n, score=n) for n in range(30)]
        + [se_record("physics.stackexchange.com", n, score=n) for n in range(3)]
        + [se_record("cooking.stackexchange.com", n, score=n) for n in range(10)]
        + [se_record("cooking.stackexchange.com", 100 + n, score=99, reason="first_person") for n in range(5)]
    )

    selected = select_records(records, targets={"stem": 6, "other": 4}, seed=0)

    by_site = collections.Counter(key.split("/")[0] for key in selected)
    assert by_site["math.stackexchange.com"] + by_site["physics.stackexchange.com"] == 6
    assert by_site["cooking.stackexchange.com"] == 4
    # The highest-scoring questions of each exchange come first, rejected records never.
    assert {key for key in selected if key.startswith("cooking")} == {
        f"cooking.stackexchange.com/questions/{n}" for n in (9, 8, 7, 6)
    }
    assert select_records(records, targets={"stem": 6, "other": 4}, seed=0) == selected


def test_one_target_draws_from_everything():
    records = [se_record("a.stackexchange.com", n) for n in range(5)] + [se_record("b.example", n) for n in range(5)]

    assert len(select_records(records, targets=4, seed=1)) == 4
    assert len(select_records(records, targets=40, seed=1)) == 10


def test_records_not_selected_are_rejected_as_not_sampled_and_others_untouched():
    records = [se_record("a.stackexchange.com", n) for n in range(4)] + [
        se_record("a.stackexchange.com", 9, reason="answer_too_long")
    ]
    selected = {"a.stackexchange.com/questions/0", "a.stackexchange.com/questions/2"}

    mark_not_sampled(records, selected)

    assert [r.reject_reason for r in records] == [None, NOT_SAMPLED, None, NOT_SAMPLED, "answer_too_long"]
