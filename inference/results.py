"""A study's results as plain data: what every study has (its runs and their lineage, progress, a ranking of
the runs for checkpoint selection) and what its protocol computes (inference.protocols: win/tie/loss per pair
or rating shares per run, with bootstrap intervals, and agreement), and the labels themselves with their lineage.

The same dict feeds the results page, the API (/api/studies/{id}/results/) and the JSON download;
`label_rows` feeds the CSV download (its header is the protocol's `columns`). The statistics are core.stats'.
"""
from __future__ import annotations

import hashlib

from django.core.cache import cache

from core import stats
from inference.checks import checks_of_runs, response_lengths
from inference.models import Study
from inference.studies import labels_of, progress

CACHE_SECONDS = 600


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
    protocol = study.protocol
    result = {
        "study": {"id": study.pk, "name": study.name, "kind": study.kind, "pairing": study.pairing,
                  "overlap": study.overlap, "seed": study.seed, "is_open": study.is_open},
        "runs": [run_summary(run) for run in runs],
        "progress": progress(study),
        **protocol.results(study, runs, n_resamples),
        "confidence": stats.CONFIDENCE, "n_resamples": n_resamples,
    }
    scores = protocol.scores(study)
    ranked = protocol.ranking(study, runs, n_resamples)
    result["ranking"] = ranking(result["runs"], scores, ranked)
    result["ranking_clear"] = is_clear(result["ranking"], ranked)
    result["ranking_method"] = ranking_method(ranked, protocol)
    checks = checks_of_runs(runs)
    result["lengths"] = [{**row, "checks": checks[row["run"]]} for row in response_lengths(study, runs)]
    return result


def ranking(runs: list[dict], scores: dict[str, list[float]], ranked=None) -> list[dict]:
    """The study's runs best first: by the protocol's ranking with intervals where it has one (Bradley–Terry
    for pairwise studies, bootstrap over prompts), else by their mean points; a run without a label last."""
    summaries = {str(run["id"]): run for run in runs}
    points_of = {key: [] for key in summaries} | scores
    rows = {
        model: {"run": int(model), "name": summaries.get(model, {}).get("name", model), "n_labels": len(points),
                "score": round(sum(points) / len(points), 4) if points else None,
                "rating": None, "low": None, "high": None,
                "checkpoint": summaries.get(model, {}).get("checkpoint"),
                "training_run": summaries.get(model, {}).get("training_run")}
        for model, points in points_of.items()
    }
    if ranked is not None:
        ordered = []
        for strength in ranked.strengths:
            row = rows.pop(strength.model, None)
            if row is None:
                continue
            rated = row["score"] is not None
            row.update(rating=round(strength.rating, 1) if rated else None,
                       low=round(strength.low, 1) if rated else None, high=round(strength.high, 1) if rated else None)
            ordered.append(row)
        unlabelled = [row for row in ordered if row["score"] is None]
        return [row for row in ordered if row["score"] is not None] + unlabelled + list(rows.values())
    return sorted(rows.values(), key=lambda r: (r["score"] is None, -(r["score"] or 0.0), r["run"]))


def is_clear(rows: list[dict], ranked) -> bool:
    """Does the first run lead? With intervals: in 95 % of the resamples; without: by a higher mean. A tie
    within the interval highlights no choice."""
    labelled = [row for row in rows if row["score"] is not None]
    if not labelled:
        return False
    if len(labelled) == 1:
        return True
    if ranked is not None:
        return ranked.clear
    return labelled[0]["score"] > labelled[1]["score"]


def ranking_method(ranked, protocol) -> dict:
    if ranked is None:
        return {"name": "mean points", "note": protocol.ranking_note}
    return {"name": protocol.ranking_name, "note": protocol.ranking_note, "top_share": round(ranked.top_share, 3)}


def label_rows(study: Study):
    """One row per label, with the generations, runs and checkpoints behind it (the CSV download)."""
    return study.protocol.label_rows(study, study_runs(study))
