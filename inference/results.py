"""A study's results as plain data: win/tie/loss per pair with bootstrap intervals, agreement, rating
shares, a ranking of its runs (for checkpoint selection), and the labels themselves with their lineage.

The same dict feeds the results page, the API (/api/studies/{id}/results/) and the JSON download;
`label_rows` feeds the CSV download. The statistics are core.stats'.
"""
from __future__ import annotations

import hashlib

from django.core.cache import cache

from core import stats
from inference.models import Judgment, Rating, Study
from inference.studies import labels_of, pairs_of, progress

# Ranking scores in [0, 1]: pairwise, the share of a run's comparisons it won, a tie counting half;
# absolute, the mean rating with Fail = 0, Pass = 0.5, Excellent = 1.
RATING_POINTS = {"Fail": 0.0, "Pass": 0.5, "Excellent": 1.0}
CACHE_SECONDS = 600


def _share(share: stats.Share) -> dict:
    return {"percent": round(share.percent, 2), "low": round(share.low, 2), "high": round(share.high, 2)}


def run_summary(run) -> dict:
    """A run and its lineage: checkpoint, training run and dataset version (ids, for links)."""
    checkpoint = run.checkpoint
    training_run_id = checkpoint.run_id if checkpoint is not None else None
    version_id = run.dataset_version_id
    if version_id is None and checkpoint is not None:
        version_id = checkpoint.run.dataset_version_id
    return {
        "id": run.pk, "name": run.name, "kind": run.kind, "split": run.split,
        "checkpoint": None if checkpoint is None else {
            "id": checkpoint.pk, "epoch": checkpoint.epoch, "step": checkpoint.step,
            "chosen": checkpoint.run.chosen_checkpoint_id == checkpoint.pk,
        },
        "training_run": training_run_id,
        "dataset_version": version_id,
    }


def comparisons(study: Study) -> list[stats.Comparison]:
    rows = Judgment.objects.filter(item__study=study).values_list(
        "item_id", "annotator_id", "item__left__run_id", "item__right__run_id", "label"
    )
    return [stats.Comparison(item, annotator, str(a), str(b), label) for item, annotator, a, b, label in rows]


def ratings(study: Study) -> list[stats.Rating]:
    rows = Rating.objects.filter(item__study=study).values_list("item_id", "annotator_id", "label", "item__left__run_id")
    return [stats.Rating(item, annotator, label, str(run)) for item, annotator, label, run in rows]


def study_runs(study: Study) -> list:
    return [sr.run for sr in study.study_runs.select_related("run__checkpoint__run").order_by("position")]


def study_results(study: Study, n_resamples: int = stats.N_RESAMPLES) -> dict:
    """Everything the results page shows, cached until a label, the study's state or a chosen checkpoint changes."""
    labels = labels_of(study)
    latest = labels.order_by("-updated_at").values_list("updated_at", flat=True).first()
    chosen = list(study.study_runs.order_by("position").values_list("run__checkpoint__run__chosen_checkpoint_id",
                                                                   flat=True))
    state = f"{study.is_open}|{labels.count()}|{latest and latest.isoformat()}|{chosen}|{n_resamples}"
    key = f"inference-results-{study.pk}-{hashlib.sha1(state.encode()).hexdigest()}"
    found = cache.get(key)
    if found is None:
        found = compute_results(study, n_resamples)
        cache.set(key, found, CACHE_SECONDS)
    return found


def compute_results(study: Study, n_resamples: int = stats.N_RESAMPLES) -> dict:
    runs = study_runs(study)
    names = {str(run.pk): run.name for run in runs}
    result = {
        "study": {"id": study.pk, "name": study.name, "kind": study.kind, "pairing": study.pairing,
                  "overlap": study.overlap, "seed": study.seed, "is_open": study.is_open},
        "runs": [run_summary(run) for run in runs],
        "progress": progress(study),
        "pairs": [], "agreement": None, "ratings": [], "ranking": [],
        "confidence": stats.CONFIDENCE, "n_resamples": n_resamples,
    }
    scores: dict[str, list[float]] = {str(run.pk): [] for run in runs}
    if study.is_pairwise:
        found = comparisons(study)
        for first, second in pairs_of(runs, study.pairing):
            model, other = str(first.pk), str(second.pk)
            try:
                pair = stats.win_tie_loss(found, model, other, n_resamples=n_resamples)
            except ValueError:  # no label on this pair yet
                result["pairs"].append({"model": first.pk, "other": second.pk, "model_name": first.name,
                                        "other_name": second.name, "n_items": 0, "n_labels": 0,
                                        "win": None, "tie": None, "loss": None})
                continue
            result["pairs"].append({
                "model": first.pk, "other": second.pk, "model_name": first.name, "other_name": second.name,
                "n_items": pair.n_items, "n_labels": pair.n_labels,
                "win": _share(pair.win), "tie": _share(pair.tie), "loss": _share(pair.loss),
            })
        for comparison in found:
            for model in (comparison.model_a, comparison.model_b):
                points = {"win": 1.0, "tie": 0.5, "loss": 0.0}[stats.outcome_for(comparison, model)]
                scores.setdefault(model, []).append(points)
        agreement = stats.agreement(found)
        usernames = _usernames({a for p in agreement.pairs for a in (p.annotator_1, p.annotator_2)})
        result["agreement"] = {
            "mean": None if agreement.mean is None else round(agreement.mean, 4),
            "pairs": [{"annotator_1": usernames.get(p.annotator_1, str(p.annotator_1)),
                       "annotator_2": usernames.get(p.annotator_2, str(p.annotator_2)),
                       "n_items": p.n_items, "accuracy": round(p.accuracy, 4)} for p in agreement.pairs],
        }
    else:
        found = ratings(study)
        for model, shares in stats.rating_shares_by_model(found, n_resamples=n_resamples).items():
            result["ratings"].append({
                "run": int(model), "name": names.get(model, model), "n_items": shares.n_items,
                "n_labels": shares.n_labels, "shares": {label: _share(s) for label, s in shares.shares.items()},
            })
        order = {str(run.pk): i for i, run in enumerate(runs)}
        result["ratings"].sort(key=lambda r: order.get(str(r["run"]), 0))
        for rating in found:
            scores.setdefault(rating.model, []).append(RATING_POINTS[rating.label])
    summaries = {str(s["id"]): s for s in result["runs"]}
    result["ranking"] = sorted(
        ({"run": int(model), "name": names.get(model, model), "n_labels": len(points),
          "score": round(sum(points) / len(points), 4) if points else None,
          "checkpoint": summaries.get(model, {}).get("checkpoint"),
          "training_run": summaries.get(model, {}).get("training_run")}
         for model, points in scores.items()),
        key=lambda r: (r["score"] is None, -(r["score"] or 0.0), r["run"]),
    )
    return result


def _usernames(ids) -> dict:
    from django.contrib.auth import get_user_model

    User = get_user_model()
    return {pk: name for pk, name in User.objects.filter(pk__in=ids).values_list("pk", User.USERNAME_FIELD)}


LABEL_COLUMNS = [
    "study", "item", "prompt_key", "annotator", "label", "left_run", "left_model", "left_generation",
    "right_run", "right_model", "right_generation", "first_run", "outcome_for_first_run",
    "checkpoint_left", "checkpoint_right", "labelled_at",
]


def label_rows(study: Study):
    """One row per label, with the generations, runs and checkpoints behind it (the CSV download)."""
    runs = study_runs(study)
    first_of_pair = {}
    for first, second in pairs_of(runs, study.pairing) if study.is_pairwise else []:
        first_of_pair[frozenset((first.pk, second.pk))] = first.pk
    related = ["annotator", "item__left__run", "item__right__run"]
    Label = Judgment if study.is_pairwise else Rating
    for label in Label.objects.filter(item__study=study).select_related(*related).order_by("item__position", "pk"):
        item = label.item
        left, right = item.left, item.right
        row = {
            "study": study.pk, "item": item.position, "prompt_key": item.prompt_key,
            "annotator": label.annotator.get_username(), "label": label.label,
            "left_run": left.run_id, "left_model": left.run.name, "left_generation": left.pk,
            "right_run": right.run_id if right else "", "right_model": right.run.name if right else "",
            "right_generation": right.pk if right else "", "first_run": "", "outcome_for_first_run": "",
            "checkpoint_left": left.run.checkpoint_id or "",
            "checkpoint_right": (right.run.checkpoint_id or "") if right else "",
            "labelled_at": label.updated_at.isoformat(),
        }
        if right is not None:
            first = first_of_pair.get(frozenset((left.run_id, right.run_id)), left.run_id)
            row["first_run"] = first
            row["outcome_for_first_run"] = stats.outcome(label.label, swapped=first != left.run_id)
        yield row
