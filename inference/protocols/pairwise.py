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
from inference.models import Judgment, Study
from inference.protocols.base import LINEAGE_COLUMNS, Label, Protocol, register, share, usernames

CATEGORIES = [("win", "seg-win", "wins"), ("tie", "seg-tie", "tie"), ("loss", "seg-loss", "loses")]
POINTS = {"win": 1.0, "tie": 0.5, "loss": 0.0}  # the ranking: a run's share of comparisons won, a tie half


def pairs_of(study_runs: list, pairing: str) -> list[tuple]:
    """The run pairs a pairwise study compares, each as (first, second) in the study's run order."""
    if pairing == Study.Pairing.FIRST:
        return [(study_runs[0], other) for other in study_runs[1:]]
    return list(itertools.combinations(study_runs, 2))


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
    ranking_note = "share of comparisons won, a tie counting half"
    columns = LINEAGE_COLUMNS[:11] + ["first_run", "outcome_for_first_run"] + LINEAGE_COLUMNS[11:]

    def check_runs(self, runs):
        if len(runs) < 2:
            return "A pairwise study needs at least two generation runs: the model and one or more to compare it with."
        return None

    def build_items(self, keys, runs, generations, pairing, rng):
        items = []
        for key in keys:
            for first, second in pairs_of(runs, pairing):
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
        pairs = []
        for first, second in pairs_of(runs, study.pairing):
            row = {"model": first.pk, "other": second.pk, "model_name": first.name, "other_name": second.name}
            try:
                pair = stats.win_tie_loss(found, str(first.pk), str(second.pk), n_resamples=n_resamples)
            except ValueError:  # no label on this pair yet
                pairs.append({**row, "n_items": 0, "n_labels": 0, "win": None, "tie": None, "loss": None})
                continue
            pairs.append({**row, "n_items": pair.n_items, "n_labels": pair.n_labels,
                          "win": share(pair.win), "tie": share(pair.tie), "loss": share(pair.loss)})
        return {"pairs": pairs, "agreement": self.agreement(found)}

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


register(PairwiseProtocol())
