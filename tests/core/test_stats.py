import pytest

from core.stats import (
    Comparison,
    Rating,
    agreement,
    bootstrap_shares,
    cohen_kappa,
    outcome,
    outcome_for,
    pairwise_results,
    rating_agreement,
    rating_shares,
    rating_shares_by_model,
    tie_discounted_score,
    win_tie_loss,
)


def shown(item, annotator, label, lima_side="A", other="alpaca"):
    """A comparison of "lima" against `other`, with lima shown on `lima_side`."""
    a, b = ("lima", other) if lima_side == "A" else (other, "lima")
    return Comparison(item=item, annotator=annotator, model_a=a, model_b=b, label=label)


def outcomes_for_items(n_win, n_loss, n_tie=0):
    """One label per item: n_win items lima won, n_loss it lost, n_tie tied."""
    labels = ["A"] * n_win + ["B"] * n_loss + ["tie"] * n_tie
    return [shown(i, "ann", label) for i, label in enumerate(labels)]


def test_it_maps_an_annotator_label_to_the_first_models_outcome_by_display_order():
    assert outcome("A", swapped=False) == "win"
    assert outcome("B", swapped=False) == "loss"
    assert outcome("A", swapped=True) == "loss"
    assert outcome("B", swapped=True) == "win"
    assert outcome("tie", swapped=False) == "tie"
    assert outcome("tie", swapped=True) == "tie"


def test_it_reads_a_comparison_from_either_models_view():
    c = shown(1, "ann", "B", lima_side="B")
    assert outcome_for(c, "lima") == "win"
    assert outcome_for(c, "alpaca") == "loss"
    with pytest.raises(ValueError, match="'gpt4' is neither"):
        outcome_for(c, "gpt4")


def test_it_refuses_an_unknown_label():
    with pytest.raises(ValueError, match="'left'"):
        outcome("left", swapped=False)


def test_it_counts_win_tie_loss_per_label_whatever_side_the_model_was_shown_on():
    comparisons = [
        shown(1, "ann", "A", lima_side="A"),  # lima win
        shown(2, "ann", "A", lima_side="B"),  # lima loss
        shown(3, "ann", "tie", lima_side="B"),  # tie
        shown(4, "ann", "B", lima_side="B"),  # lima win
        shown(5, "ann", "A", lima_side="A", other="bard"),  # another pair: not counted
    ]
    result = win_tie_loss(comparisons, "lima", "alpaca", n_resamples=200)
    # 2 wins, 1 tie, 1 loss out of 4 labels
    assert (result.win.percent, result.tie.percent, result.loss.percent) == (50.0, 25.0, 25.0)
    assert (result.n_items, result.n_labels) == (4, 4)
    flipped = win_tie_loss(comparisons, "alpaca", "lima", n_resamples=200)
    assert (flipped.win.percent, flipped.loss.percent) == (25.0, 50.0)


def test_it_weights_every_label_of_an_item_with_several_annotators():
    comparisons = [
        shown(1, "ann1", "A"),  # win
        shown(1, "ann2", "tie"),  # tie
        shown(1, "ann3", "A"),  # win
        shown(2, "ann1", "B"),  # loss
    ]
    result = win_tie_loss(comparisons, "lima", "alpaca", n_resamples=200)
    # 2 wins, 1 tie, 1 loss out of 4 labels over 2 items
    assert (result.win.percent, result.tie.percent, result.loss.percent) == (50.0, 25.0, 25.0)
    assert (result.n_items, result.n_labels) == (2, 4)


def test_its_bootstrap_interval_matches_the_hand_computed_resampling_distribution():
    # 4 items: lima won 2, lost 2. A resample draws k winning items, k ~ Binomial(4, 1/2),
    # so the win share is 25k %, with P(k) = 1/16, 4/16, 6/16, 4/16, 1/16 and
    # cumulative 0.0625, 0.3125, 0.6875, 0.9375, 1.
    comparisons = outcomes_for_items(n_win=2, n_loss=2)
    # 80 %: the 10th percentile falls in k = 1 (0.0625 < 0.10 <= 0.3125) -> 25 %,
    #       the 90th in k = 3 (0.6875 < 0.90 <= 0.9375) -> 75 %.
    r80 = win_tie_loss(comparisons, "lima", "alpaca", confidence=0.8)
    assert (r80.win.percent, r80.win.low, r80.win.high) == (50.0, 25.0, 75.0)
    # 95 %: the 2.5th percentile falls in k = 0 (0.025 <= 0.0625) -> 0 %,
    #       the 97.5th in k = 4 (0.9375 < 0.975) -> 100 %.
    r95 = win_tie_loss(comparisons, "lima", "alpaca")
    assert (r95.win.low, r95.win.high) == (0.0, 100.0)
    # No ties anywhere: the tie share and its interval are exactly 0.
    assert (r95.tie.percent, r95.tie.low, r95.tie.high) == (0.0, 0.0, 0.0)


def test_its_bootstrap_resamples_items_not_single_labels():
    # Item 1: three annotators all say lima won; item 2: all three say it lost.
    # Resampling items gives 0 %, 50 % or 100 % with P = 1/4, 1/2, 1/4, so an 80 % interval
    # is [0, 100]. Resampling the six labels independently would give a narrower interval
    # (its 10th percentile is 1 or 2 wins of 6, not 0).
    comparisons = [shown(1, ann, "A") for ann in "xyz"] + [shown(2, ann, "B") for ann in "xyz"]
    result = win_tie_loss(comparisons, "lima", "alpaca", confidence=0.8)
    assert (result.win.percent, result.win.low, result.win.high) == (50.0, 0.0, 100.0)


def test_its_bootstrap_is_seeded():
    comparisons = outcomes_for_items(n_win=20, n_loss=17, n_tie=13)
    first = win_tie_loss(comparisons, "lima", "alpaca", seed=7, n_resamples=500)
    again = win_tie_loss(comparisons, "lima", "alpaca", seed=7, n_resamples=500)
    other = win_tie_loss(comparisons, "lima", "alpaca", seed=8, n_resamples=500)
    assert first == again
    assert first != other
    for share in (first.win, first.tie, first.loss):
        assert share.low <= share.percent <= share.high


def test_it_reports_every_model_pair_from_the_first_models_view():
    comparisons = [
        shown(1, "ann", "A"),  # lima beats alpaca
        shown(2, "ann", "B", other="bard"),  # bard beats lima (bard shown as B)
        shown(3, "ann", "tie", other="bard"),
    ]
    results = pairwise_results(comparisons, n_resamples=100)
    assert [(r.model, r.other) for r in results] == [("alpaca", "lima"), ("bard", "lima")]
    assert results[0].loss.percent == 100.0
    assert (results[1].win.percent, results[1].tie.percent) == (50.0, 50.0)


def test_it_scores_two_labels_with_lima_s_tie_discounted_formula():
    # LIMA.md: 1 for the same label, 0.5 where exactly one said tie, 0 otherwise.
    assert tie_discounted_score("win", "win") == 1.0
    assert tie_discounted_score("tie", "tie") == 1.0
    assert tie_discounted_score("win", "tie") == 0.5
    assert tie_discounted_score("tie", "loss") == 0.5
    assert tie_discounted_score("win", "loss") == 0.0


def test_its_agreement_averages_items_both_annotators_labelled_then_annotator_pairs():
    comparisons = [
        # ann1: i1 lima wins, i2 tie, i3 lima loses, i4 lima wins
        shown(1, "ann1", "A"), shown(2, "ann1", "tie"), shown(3, "ann1", "B"), shown(4, "ann1", "A"),
        # ann2 saw item 1 swapped: "B" is lima again.
        # ann2: i1 lima wins, i2 lima wins, i3 lima wins, i4 tie
        shown(1, "ann2", "B", lima_side="B"), shown(2, "ann2", "A"), shown(3, "ann2", "A"),
        shown(4, "ann2", "tie"),
        # ann3 labelled only items 1 and 2: tie, tie
        shown(1, "ann3", "tie"), shown(2, "ann3", "tie"),
    ]
    result = agreement(comparisons)
    by_pair = {(p.annotator_1, p.annotator_2): (p.n_items, p.accuracy) for p in result.pairs}
    assert by_pair == {
        ("ann1", "ann2"): (4, (1 + 0.5 + 0 + 0.5) / 4),  # 0.5
        ("ann1", "ann3"): (2, (0.5 + 1) / 2),  # 0.75
        ("ann2", "ann3"): (2, (0.5 + 0.5) / 2),  # 0.5
    }
    assert result.mean == pytest.approx((0.5 + 0.75 + 0.5) / 3)


def test_its_agreement_reproduces_an_82_percent_like_lima_s_crowd():
    # 50 shared items: 38 same label, 6 where one said tie, 6 opposite winners:
    # (38 * 1 + 6 * 0.5 + 6 * 0) / 50 = 41 / 50 = 0.82, LIMA's crowd-crowd figure.
    first = ["A"] * 38 + ["A"] * 6 + ["A"] * 6
    second = ["A"] * 38 + ["tie"] * 6 + ["B"] * 6
    comparisons = [shown(i, "crowd1", label) for i, label in enumerate(first)]
    comparisons += [shown(i, "crowd2", label) for i, label in enumerate(second)]
    assert agreement(comparisons).mean == pytest.approx(0.82)


def test_its_agreement_ignores_annotators_who_share_no_item():
    result = agreement([shown(1, "ann1", "A"), shown(2, "ann2", "A")])
    assert result.pairs == [] and result.mean is None


def test_its_agreement_keeps_the_same_item_id_of_different_model_pairs_apart():
    result = agreement([shown(1, "ann1", "A"), shown(1, "ann2", "B", other="bard")])
    assert result.pairs == []


def test_its_agreement_refuses_an_annotator_labelling_an_item_twice():
    with pytest.raises(ValueError, match="'ann1' labelled item 1 twice"):
        agreement([shown(1, "ann1", "A"), shown(1, "ann1", "B")])


def test_it_computes_rating_shares_like_lima_s_absolute_evaluation():
    # LIMA.md: 50 responses rated Fail / Pass / Excellent: 12 / 38 / 50 %, i.e. 6 / 19 / 25.
    labels = ["Fail"] * 6 + ["Pass"] * 19 + ["Excellent"] * 25
    ratings = [Rating(item=i, annotator="ann", label=label) for i, label in enumerate(labels)]
    result = rating_shares(ratings, n_resamples=1000)
    assert {k: s.percent for k, s in result.shares.items()} == {
        "Fail": 12.0, "Pass": 38.0, "Excellent": 50.0,
    }
    assert (result.n_items, result.n_labels) == (50, 50)
    for share in result.shares.values():
        assert share.low < share.percent < share.high


def test_its_rating_interval_matches_the_hand_computed_resampling_distribution():
    # Same distribution as the pairwise case: 2 of 4 items Excellent -> 80 % CI [25, 75].
    labels = ["Excellent", "Excellent", "Fail", "Fail"]
    ratings = [Rating(item=i, annotator="ann", label=label) for i, label in enumerate(labels)]
    excellent = rating_shares(ratings, confidence=0.8).shares["Excellent"]
    assert (excellent.percent, excellent.low, excellent.high) == (50.0, 25.0, 75.0)


def test_it_groups_rating_shares_by_model():
    ratings = [
        Rating(1, "ann", "Pass", model="epoch5"),
        Rating(2, "ann", "Fail", model="epoch5"),
        Rating(1, "ann", "Excellent", model="epoch7"),
    ]
    result = rating_shares_by_model(ratings, n_resamples=100)
    assert list(result) == ["epoch5", "epoch7"]
    assert result["epoch5"].shares["Pass"].percent == 50.0
    assert result["epoch7"].shares["Excellent"].percent == 100.0


def test_it_refuses_an_unknown_rating_naming_the_item():
    with pytest.raises(ValueError, match="item 3: rating must be one of"):
        rating_shares([Rating(3, "ann", "Good")])


def test_it_refuses_to_compute_shares_of_nothing():
    with pytest.raises(ValueError, match="no comparisons between 'lima' and 'gpt4'"):
        win_tie_loss([shown(1, "ann", "A")], "lima", "gpt4")
    with pytest.raises(ValueError):
        bootstrap_shares([[0, 0, 0]])


def test_cohen_s_kappa_discounts_the_agreement_expected_by_chance():
    # p_o = 3/4; marginals (F, P, E) 1/4, 2/4, 1/4 and 1/4, 3/4, 0 give p_e = (1 + 6 + 0) / 16 = 7/16;
    # kappa = (12/16 - 7/16) / (9/16) = 5/9.
    first = ["Fail", "Pass", "Excellent", "Pass"]
    second = ["Fail", "Pass", "Pass", "Pass"]
    assert cohen_kappa(first, second) == pytest.approx(5 / 9)
    assert cohen_kappa(first, first) == pytest.approx(1.0)
    assert cohen_kappa(["Pass", "Fail"], ["Fail", "Pass"]) == pytest.approx(-1.0)
    assert cohen_kappa(["Pass", "Pass"], ["Pass", "Pass"]) is None  # chance agreement is 1 already


def test_rating_agreement_compares_every_annotator_pair_on_the_items_both_rated():
    ratings = [Rating(i, "ann1", label) for i, label in enumerate(["Fail", "Pass", "Excellent", "Pass"])]
    ratings += [Rating(i, "ann2", label) for i, label in enumerate(["Fail", "Pass", "Pass", "Pass"])]
    ratings += [Rating(9, "ann3", "Pass")]  # shares no item with anyone

    result = rating_agreement(ratings)

    assert [(p.annotator_1, p.annotator_2, p.n_items) for p in result.pairs] == [("ann1", "ann2", 4)]
    assert result.pairs[0].accuracy == pytest.approx(0.75)
    assert result.mean == pytest.approx(0.75) and result.kappa == pytest.approx(5 / 9)
    assert rating_agreement([Rating(1, "a", "Pass"), Rating(2, "b", "Pass")]).mean is None
    with pytest.raises(ValueError, match="'a' rated item 1 twice"):
        rating_agreement([Rating(1, "a", "Pass"), Rating(1, "a", "Fail")])
