"""Study analytics on synthetic labels with known answers: the length-controlled win rate removes a pure
length preference, Bradley–Terry recovers the order of known strengths, kappas match textbook examples."""
import math

import numpy as np
import pytest

from inference import analytics
from inference.analytics import Match, Outcome


def sigmoid(x):
    return 1 / (1 + math.exp(-x))


# --- Length-controlled win rate -----------------------------------------------------------------------------


def length_biased_labels(n=400, seed=1, skill=0.0):
    """People who prefer the longer answer and nothing else (skill 0): the model writes longer answers."""
    rng = np.random.default_rng(seed)
    outcomes = []
    for item in range(n):
        mine, theirs = int(rng.integers(80, 400)), int(rng.integers(20, 200))
        x = math.tanh((mine - theirs) / 120)
        p_win = sigmoid(skill + 3 * x)
        outcomes.append(Outcome(item, "win" if rng.random() < p_win else "loss", mine, theirs))
    return outcomes


def test_a_pure_length_preference_is_removed():
    found = analytics.length_controlled_win_rate(length_biased_labels(), n_resamples=200)

    assert found.raw > 75  # longer answers win most raw comparisons
    assert found.low < 50 < found.high and abs(found.controlled - 50) < 8
    assert found.length_weight > 1


def test_a_real_skill_survives_the_length_control():
    found = analytics.length_controlled_win_rate(length_biased_labels(skill=1.0, seed=2), n_resamples=200)

    assert found.controlled > 60 and found.low > 50
    assert found.controlled == pytest.approx(100 * sigmoid(1.0), abs=9)


def test_without_a_length_difference_the_controlled_rate_is_the_raw_one_with_ties_half():
    outcomes = [Outcome(i, o, 100, 100) for i, o in enumerate(["win", "win", "tie", "loss"])]
    found = analytics.length_controlled_win_rate(outcomes, n_resamples=50)

    assert found.raw == pytest.approx(62.5)
    assert found.controlled == pytest.approx(62.5, abs=0.3)  # the L2 penalty pulls a hair towards 50
    assert found.n_items == 4 and found.n_labels == 4


def test_an_unknown_outcome_is_refused_by_name():
    with pytest.raises(ValueError, match="item 7"):
        analytics.length_controlled_win_rate([Outcome(7, "draw", 1, 1)])


# --- Bradley–Terry ------------------------------------------------------------------------------------------


def arena(strengths, prompts=300, seed=0, tie_share=0.2):
    rng = np.random.default_rng(seed)
    models = list(strengths)
    matches = []
    for prompt in range(prompts):
        for i, j in [(0, 1), (1, 2), (0, 2), (2, 3), (1, 3), (0, 3)][: math.comb(len(models), 2)]:
            a, b = models[i], models[j]
            p = strengths[a] / (strengths[a] + strengths[b])
            if rng.random() < tie_share:
                outcome = "tie"
            else:
                outcome = "win" if rng.random() < p else "loss"
            matches.append(Match(prompt, a, b, outcome))
    return matches


def test_bradley_terry_recovers_the_order_of_known_strengths():
    strengths = {"epoch 5": 1.0, "epoch 7": 3.0, "epoch 6": 2.0, "epoch 8": 0.5}
    ranking = analytics.rank_runs(arena(strengths), list(strengths), n_resamples=100)

    assert [s.model for s in ranking.strengths] == ["epoch 7", "epoch 6", "epoch 5", "epoch 8"]
    assert ranking.clear and ranking.top_share >= 0.95
    best, second = ranking.strengths[:2]
    assert best.low <= best.rating <= best.high and best.n_matches == 900
    # ratings differences follow log-strength ratios (ties shrink them a little)
    assert 0 < best.rating - second.rating < 400 * math.log10(3 / 2) * 1.2


def test_the_fit_matches_the_closed_form_of_two_models_and_hunters_mm_update():
    wins = np.array([[0, 30], [10, 0]])
    p = analytics.bradley_terry(wins, prior=0)

    assert p[0] / p[1] == pytest.approx(3.0, rel=1e-6)
    # three models: Newton's maximum is the fixed point of Hunter's MM update p_i = W_i / sum_j n_ij / (p_i + p_j)
    wins = np.array([[0, 7, 4], [3, 0, 6], [2, 5, 0]], float)
    p = analytics.bradley_terry(wins, prior=0)
    games = wins + wins.T
    assert wins.sum(axis=1) / (games / (p[:, None] + p[None, :])).sum(axis=1) == pytest.approx(p, rel=1e-7)


def test_a_ladder_of_certain_wins_is_fitted_fast_and_finite():
    matches = [Match(p, a, b, "win") for p in range(12) for a, b in [("a", "b"), ("b", "c"), ("a", "c")]]
    ranking = analytics.rank_runs(matches, ["c", "b", "a"], n_resamples=1000)

    assert [s.model for s in ranking.strengths] == ["a", "b", "c"] and ranking.clear
    assert all(math.isfinite(s.rating) and s.rating - 1000 < 1000 for s in ranking.strengths)


def test_a_fifty_fifty_tie_is_not_a_clear_lead():
    matches = [Match(i, "a", "b", "win" if i % 2 else "loss") for i in range(40)]
    ranking = analytics.rank_runs(matches, ["a", "b"], n_resamples=200)

    assert not ranking.clear
    assert abs(ranking.strengths[0].rating - ranking.strengths[1].rating) < 1e-6


def test_a_run_that_won_everything_keeps_a_finite_rating():
    matches = [Match(i, "a", "b", "win") for i in range(10)]
    ranking = analytics.rank_runs(matches, ["a", "b", "never compared"], n_resamples=50)

    assert ranking.strengths[0].model == "a" and math.isfinite(ranking.strengths[0].rating)
    assert ranking.clear
    assert {s.model: s.n_matches for s in ranking.strengths}["never compared"] == 0


# --- Sample size --------------------------------------------------------------------------------------------


def test_prompts_needed_for_five_points():
    assert analytics.prompts_needed([50]) == 385
    assert analytics.prompts_needed([]) == 385
    assert analytics.prompts_needed([90, 5, 5]) == 139  # 1.96² · 0.09 / 0.0025
    assert analytics.prompts_needed([20, 30, 50], margin=10) == 97


# --- Kappas on textbook examples -------------------------------------------------------------------------


def test_fleiss_kappa_on_fleiss_wikipedia_example():
    # Wikipedia's worked example (14 raters, 10 subjects, 5 categories): kappa 0.210
    counts = [
        [0, 0, 0, 0, 14], [0, 2, 6, 4, 2], [0, 0, 3, 5, 6], [0, 3, 9, 2, 0], [2, 2, 8, 1, 1],
        [7, 7, 0, 0, 0], [3, 2, 6, 3, 0], [2, 5, 3, 2, 2], [6, 5, 2, 1, 0], [0, 2, 2, 3, 7],
    ]
    assert analytics.fleiss_kappa(np.array(counts)) == pytest.approx(0.2099, abs=1e-4)


def test_fleiss_kappa_of_two_raters_is_scotts_pi_and_refuses_ragged_items():
    assert analytics.fleiss_kappa(np.array([[2, 0], [0, 2]])) == pytest.approx(1.0)
    assert analytics.fleiss_kappa(np.array([[2, 0], [2, 0]])) is None
    with pytest.raises(ValueError, match="same number"):
        analytics.fleiss_kappa(np.array([[2, 0], [1, 2]]))


def test_weighted_kappa_by_hand():
    scale = ["Fail", "Pass", "Excellent"]
    one = ["Fail", "Pass", "Excellent", "Pass"]
    two = ["Fail", "Excellent", "Excellent", "Fail"]
    # observed: (F,F) (P,E) (E,E) (P,F); marginals one: F¼ P½ E¼, two: F½ P0 E½
    # linear disagreement observed = (0 + ½ + 0 + ½)/4 = 0.25
    # expected = Σ r_i c_j w_ij = ¼·½·1 (F,E) + ½·½·½ (P,F) + ½·½·½ (P,E) + ¼·½·1 (E,F) = 0.5
    assert analytics.weighted_kappa(one, two, scale) == pytest.approx(1 - 0.25 / 0.5)
    # quadratic: observed (¼ + ¼)/4 = 0.125, expected ⅛ + 1/16 + 1/16 + ⅛ = 0.375
    assert analytics.weighted_kappa(one, two, scale, "quadratic") == pytest.approx(1 - 0.125 / 0.375)
    assert analytics.weighted_kappa(["Pass"] * 3, ["Pass"] * 3, scale) is None


def test_weighted_kappa_with_two_categories_is_cohens_kappa():
    from core import stats

    one = ["Pass", "Fail", "Pass", "Pass", "Fail", "Pass"]
    two = ["Pass", "Fail", "Fail", "Pass", "Pass", "Pass"]
    assert analytics.weighted_kappa(one, two, ["Fail", "Pass"]) == pytest.approx(stats.cohen_kappa(one, two))


# --- Run checks ---------------------------------------------------------------------------------------------


def test_run_checks_count_stops_cuts_and_lengths():
    checks = analytics.run_checks([(3, "stop", 4), (2, "length", 8), (0, "stop", 1), (1, "", None)])

    assert checks.n == 4
    assert checks.stopped == pytest.approx(2 / 3) and checks.cut == pytest.approx(1 / 3)
    assert checks.empty == 0.25 and checks.mean_length == 1.5 and checks.mean_tokens == pytest.approx(13 / 3)
    assert analytics.run_checks([(1, "", None)]).stopped is None


def test_ranking_by_points_pairs_the_runs_by_prompt():
    rows = [(p, "good", 1.0) for p in range(30)] + [(p, "fair", 0.5) for p in range(30)]
    ranking = analytics.rank_by_points(rows, ["fair", "good", "unrated"], n_resamples=100)

    assert [s.model for s in ranking.strengths] == ["good", "fair", "unrated"]
    assert ranking.strengths[0].rating == 100 and ranking.strengths[1].rating == 50
    assert ranking.clear and math.isnan(ranking.strengths[2].rating)


def test_equal_points_are_a_tie_within_the_interval():
    rows = [(p, "a", float(p % 2)) for p in range(20)] + [(p, "b", float((p + 1) % 2)) for p in range(20)]
    ranking = analytics.rank_by_points(rows, ["a", "b"], n_resamples=200)

    assert not ranking.clear and ranking.strengths[0].rating == 50
