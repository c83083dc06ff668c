"""LIMA's pairwise protocol (LIMA.md, Evaluation): one prompt and two responses in a random left/right order;
the annotator says which is better, or that neither is significantly better.

Items: every prompt × every compared pair of runs (the first run against each other, or every pair), the
side drawn from the study's seed. Labels are Judgments, from the annotator's view (A = left). Results:
win/tie/loss per pair from the first run's side with bootstrap intervals, and LIMA's tie-discounted
agreement between annotators.
"""
from __future__ import annotations

import itertools

from core import stats
from core.charts.stacked import stacked_bars
from curation.workspace.lint import estimate_tokens
from inference import analytics
from inference.models import Judgment, Study
from inference.protocols.base import LINEAGE_COLUMNS, Label, Protocol, register, share, usernames

CATEGORIES = [("win", "seg-win", "wins"), ("tie", "seg-tie", "tie"), ("loss", "seg-loss", "loses")]
POINTS = {"win": 1.0, "tie": 0.5, "loss": 0.0}  # a run's share of comparisons won, a tie half
RANKING_RESAMPLES = 1000  # Bradley–Terry and the length-controlled fit are refitted per resample: fewer draws


def pairs_of(study_runs: list, pairing: str) -> list[tuple]:
    """The run pairs a pairwise study compares, each as (first, second) in the study's run order."""
    if pairing == Study.Pairing.FIRST:
        return [(study_runs[0], other) for other in study_runs[1:]]
    return list(itertools.combinations(study_runs, 2))  # every pair, or every pair some prompts are drawn for


def draw_pairs(pairs: list, keys: list, per_prompt: int, rng) -> dict:
    """{prompt key: its pairs} for a study of several runs that shows each prompt with only a few pairs:
    pairs are dealt from a shuffled deck of every pair, reshuffled when used up, so each pair meets about
    as many prompts as any other (and each run as many as any other); a prompt never gets one pair twice."""
    per_prompt = min(per_prompt, len(pairs))
    deck: list = []
    dealt = {}
    for key in keys:
        chosen: list = []
        while len(chosen) < per_prompt:
            if not deck:
                deck = rng.sample(pairs, len(pairs))
            fresh = next((i for i in range(len(deck) - 1, -1, -1) if deck[i] not in chosen), None)
            if fresh is None:  # the deck's rest is all in this prompt already: start a new deck
                deck = []
                continue
            chosen.append(deck.pop(fresh))
        dealt[key] = chosen
    return dealt


class PairwiseProtocol(Protocol):
    kind = "pairwise"
    title = "Pairwise: A, B or neither better"
    name = "pairwise"
    heading = "pairwise"
    blind_name = "blind comparison"
    label_model = Judgment
    labels = (
        Label("A", "A is better", key="1", alt="a", css="btn-side"),
        Label("B", "B is better", key="2", alt="b", css="btn-side"),
        Label("tie", "Neither is significantly better", key="3", alt="t", css="btn-tie"),
    )
    responses_per_item = 2
    item_template = "inference/protocols/pairwise/_item.html"
    results_template = "inference/protocols/pairwise/_results.html"
    ranking_note = ("Bradley–Terry rating on the Elo scale (1000 is the runs' geometric mean), 95% bootstrap "
                    "interval over prompts; score: share of comparisons won, a tie counting half")
    ranking_name = "Bradley–Terry"
    columns = LINEAGE_COLUMNS[:11] + ["first_run", "outcome_for_first_run"] + LINEAGE_COLUMNS[11:]

    def check_runs(self, runs):
        if len(runs) < 2:
            return "A pairwise study needs at least two generation runs: the model and one or more to compare it with."
        return None

    def build_items(self, keys, runs, generations, pairing, rng, pairs_per_prompt=1):
        pairs = pairs_of(runs, pairing)
        dealt = draw_pairs(pairs, keys, pairs_per_prompt, rng) if pairing == Study.Pairing.SAMPLED else {}
        items = []
        for key in keys:
            for first, second in dealt.get(key, pairs):
                a, b = generations[first.pk][key], generations[second.pk][key]
                items.append((key, b, a) if rng.random() < 0.5 else (key, a, b))
        return items

    def comparisons(self, study) -> list[stats.Comparison]:
        rows = self.labels_of(study).values_list(
            "item_id", "annotator_id", "item__left__run_id", "item__right__run_id", "label"
        )
        return [stats.Comparison(item, annotator, str(a), str(b), label) for item, annotator, a, b, label in rows]

    def results(self, study, runs, n_resamples):
        found = self.comparisons(study)
        return {**summarise(found, study_items(study), runs, study.pairing, n_resamples),
                "agreement": self.agreement(found)}

    def ranking(self, study, runs, n_resamples):
        return bradley_terry_ranking(self.comparisons(study), study_items(study), runs, n_resamples)

    def agreement(self, found):
        agreement = stats.agreement(found)
        names = usernames({a for p in agreement.pairs for a in (p.annotator_1, p.annotator_2)})
        return {
            "mean": None if agreement.mean is None else round(agreement.mean, 4),
            "pairs": [{"annotator_1": names.get(p.annotator_1, str(p.annotator_1)),
                       "annotator_2": names.get(p.annotator_2, str(p.annotator_2)),
                       "n_items": p.n_items, "accuracy": round(p.accuracy, 4)} for p in agreement.pairs],
        }

    def scores(self, study):
        scores: dict[str, list[float]] = {}
        for comparison in self.comparisons(study):
            for model in (comparison.model_a, comparison.model_b):
                scores.setdefault(model, []).append(POINTS[stats.outcome_for(comparison, model)])
        return scores

    def chart(self, results):
        rows = [(p["model_name"], f"vs {p['other_name']}", {k: p[k] for k in ("win", "tie", "loss")})
                for p in results["pairs"] if p["win"] is not None]
        return stacked_bars(rows, CATEGORIES) if rows else None

    def label_rows(self, study, runs):
        first_of = {frozenset((first.pk, second.pk)): first.pk for first, second in pairs_of(runs, study.pairing)}
        for row in super().label_rows(study, runs):
            left = row["left_run"]
            first = first_of.get(frozenset((left, row["right_run"])), left)
            yield {**row, "first_run": first,
                   "outcome_for_first_run": stats.outcome(row["label"], swapped=first != left)}


# --- Results from comparisons: people's labels or a judge's verdicts alike ---------------------------------


def study_items(study) -> dict:
    """{item pk: (prompt key, left length, right length)}, lengths in estimated tokens."""
    rows = study.items.values_list("pk", "prompt_key", "left__response", "right__response")
    return {pk: (key, estimate_tokens(left), estimate_tokens(right or "")) for pk, key, left, right in rows}


def summarise(found: list[stats.Comparison], items: dict, runs: list, pairing: str, n_resamples: int) -> dict:
    """Win/tie/loss per compared pair from the first run's side, with the length-controlled win rate and
    the prompts a ±5-point interval needs. `items` is study_items'."""
    pairs = []
    for first, second in pairs_of(runs, pairing):
        row = {"model": first.pk, "other": second.pk, "model_name": first.name, "other_name": second.name}
        try:
            pair = stats.win_tie_loss(found, str(first.pk), str(second.pk), n_resamples=n_resamples)
        except ValueError:  # no label on this pair yet
            pairs.append({**row, "n_items": 0, "n_labels": 0, "win": None, "tie": None, "loss": None,
                          "length_control": None, "prompts_needed": analytics.prompts_needed([])})
            continue
        pairs.append({**row, "n_items": pair.n_items, "n_labels": pair.n_labels,
                      "win": share(pair.win), "tie": share(pair.tie), "loss": share(pair.loss),
                      "length_control": length_control(found, items, str(first.pk), str(second.pk), n_resamples),
                      "prompts_needed": analytics.prompts_needed([pair.win.percent, pair.tie.percent,
                                                                  pair.loss.percent])})
    return {"pairs": pairs}


def length_control(found, items, model: str, other: str, n_resamples: int) -> dict:
    outcomes = []
    for c in found:
        if {c.model_a, c.model_b} != {model, other}:
            continue
        _, left, right = items[c.item]
        mine, theirs = (left, right) if c.model_a == model else (right, left)
        outcomes.append(analytics.Outcome(c.item, stats.outcome_for(c, model), mine, theirs))
    fit = analytics.length_controlled_win_rate(outcomes, n_resamples=min(n_resamples, RANKING_RESAMPLES))
    return {"raw": round(fit.raw, 2), "controlled": round(fit.controlled, 2), "low": round(fit.low, 2),
            "high": round(fit.high, 2), "length_weight": round(fit.length_weight, 3),
            "prefers_longer": fit.length_weight > 0}


def bradley_terry_ranking(found, items, runs, n_resamples):
    matches = [analytics.Match(items[c.item][0], c.model_a, c.model_b, stats.outcome(c.label, swapped=False))
               for c in found]
    return analytics.rank_runs(matches, [str(run.pk) for run in runs], n_resamples=min(n_resamples, RANKING_RESAMPLES))


register(PairwiseProtocol())
