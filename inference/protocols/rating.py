"""LIMA's absolute protocol (LIMA.md, Evaluation): one response rated Fail, Pass or Excellent (12 / 38 / 50 %
for LIMA 65B on 50 prompts).

Items: every prompt × every run, one response each. Labels are Ratings. Results: the shares of each rating
per run with bootstrap intervals over responses, and agreement between annotators: exact agreement and
Cohen's kappa per pair of annotators (their mean, Light's kappa, for the study).
"""
from __future__ import annotations

from core import stats
from core.charts.stacked import stacked_bars
from inference import analytics
from inference.models import Rating
from inference.protocols.base import Label, Protocol, register, share, usernames

CATEGORIES = [("Excellent", "seg-excellent", "Excellent"), ("Pass", "seg-pass", "Pass"), ("Fail", "seg-fail", "Fail")]
POINTS = {"Fail": 0.0, "Pass": 0.5, "Excellent": 1.0}  # the ranking: a run's mean rating


class RatingProtocol(Protocol):
    kind = "rating"
    title = "Absolute: Fail, Pass or Excellent"
    name = "rating"
    heading = "absolute rating"
    blind_name = "blind rating"
    label_model = Rating
    labels = (
        Label("Fail", "Fail", key="1", alt="f", css="btn-fail"),
        Label("Pass", "Pass", key="2", alt="p", css="btn-pass"),
        Label("Excellent", "Excellent", key="3", alt="e", css="btn-excellent"),
    )
    responses_per_item = 1
    item_template = "inference/protocols/rating/_item.html"
    results_template = "inference/protocols/rating/_results.html"
    ranking_note = "mean rating: Fail 0, Pass ½, Excellent 1, with a 95% bootstrap interval over prompts"
    ranking_name = "mean rating"

    def build_items(self, keys, runs, generations, pairing, rng):
        return [(key, generations[run.pk][key], None) for key in keys for run in runs]

    def ranking(self, study, runs, n_resamples):
        rows = self.labels_of(study).values_list("item__prompt_key", "item__left__run_id", "label")
        return analytics.rank_by_points([(key, str(run), POINTS[label]) for key, run, label in rows],
                                        [str(run.pk) for run in runs], n_resamples=min(n_resamples, 1000))

    def ratings(self, study) -> list[stats.Rating]:
        rows = self.labels_of(study).values_list("item_id", "annotator_id", "label", "item__left__run_id")
        return [stats.Rating(item, annotator, label, str(run)) for item, annotator, label, run in rows]

    def results(self, study, runs, n_resamples):
        found = self.ratings(study)
        names = {str(run.pk): run.name for run in runs}
        order = {str(run.pk): i for i, run in enumerate(runs)}
        by_run = stats.rating_shares_by_model(found, n_resamples=n_resamples)
        ratings = [
            {"run": int(model), "name": names.get(model, model), "n_items": shares.n_items,
             "n_labels": shares.n_labels, "shares": {label: share(s) for label, s in shares.shares.items()}}
            for model, shares in sorted(by_run.items(), key=lambda entry: order.get(entry[0], 0))
        ]
        return {"ratings": ratings, "agreement": self.agreement(found)}

    def agreement(self, found):
        return rating_agreement(found)

    def scores(self, study):
        scores: dict[str, list[float]] = {}
        for rating in self.ratings(study):
            scores.setdefault(rating.model, []).append(POINTS[rating.label])
        return scores

    def chart(self, results):
        rows = [(r["name"], f"{r['n_items']} responses", r["shares"]) for r in results["ratings"]]
        return stacked_bars(rows, CATEGORIES) if rows else None


def rating_agreement(found: list[stats.Rating]) -> dict:
    """Exact agreement and Cohen's kappa per pair of annotators (stats), the kappa weighted for the ordered
    scale (linear: Fail against Excellent is a larger disagreement than Fail against Pass), their means, and
    Fleiss' kappa over the items with the most common number of raters."""
    agreement = stats.rating_agreement(found)
    names = usernames({a for p in agreement.pairs for a in (p.annotator_1, p.annotator_2)})
    rounded = lambda value: None if value is None else round(value, 4)  # noqa: E731
    by_annotator: dict = {}
    for r in found:
        by_annotator.setdefault(r.annotator, {})[r.item] = r.label
    pairs, weighted = [], []
    for p in agreement.pairs:
        shared = sorted(by_annotator[p.annotator_1].keys() & by_annotator[p.annotator_2].keys(), key=str)
        kappa_w = analytics.weighted_kappa([by_annotator[p.annotator_1][i] for i in shared],
                                           [by_annotator[p.annotator_2][i] for i in shared], stats.RATINGS)
        if kappa_w is not None:
            weighted.append(kappa_w)
        pairs.append({"annotator_1": names.get(p.annotator_1, str(p.annotator_1)),
                      "annotator_2": names.get(p.annotator_2, str(p.annotator_2)),
                      "n_items": p.n_items, "accuracy": round(p.accuracy, 4), "kappa": rounded(p.kappa),
                      "weighted_kappa": rounded(kappa_w)})
    counts, raters = analytics.rating_counts([(r.item, r.label) for r in found], stats.RATINGS)
    fleiss = analytics.fleiss_kappa(counts) if len(counts) else None
    return {
        "mean": rounded(agreement.mean), "kappa": rounded(agreement.kappa),
        "weighted_kappa": rounded(sum(weighted) / len(weighted)) if weighted else None,
        "fleiss": {"kappa": rounded(fleiss), "n_items": len(counts), "raters": raters} if raters else None,
        "pairs": pairs,
    }


register(RatingProtocol())
