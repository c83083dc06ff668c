"""Verbs of judging: start a judge run over a study, start it again, and its results beside people's."""
from __future__ import annotations

from collections import Counter

from django.db import transaction

from core import stats
from core.jobs.runner import JobStateError, cancel, enqueue, execute
from inference import analytics
from inference.judging import verdicts
from inference.judging.models import JudgeRun
from inference.protocols.base import share, usernames
from inference.protocols.pairwise import bradley_terry_ranking, study_items, summarise
from inference.results import study_runs

KINDS = ("pairwise", "rating")
JUDGE = "judge"  # the judge's annotator id among people's in the agreement figures


class JudgeError(ValueError):
    """A judge run cannot be made or started as asked; nothing was changed."""


@transaction.atomic
def create_judge_run(study, endpoint, *, template: str = "", max_tokens: int = 64, temperature: float = 0.0,
                     user=None, run_async: bool = True) -> JudgeRun:
    if study.kind not in KINDS:
        raise JudgeError(f"A judge answers pairwise and rating studies; study #{study.pk} is {study.kind}.")
    template = template.strip() or verdicts.default_template(study.kind)
    try:
        verdicts.check_template(template, study.kind)
    except verdicts.TemplateError as error:
        raise JudgeError(str(error)) from None
    if max_tokens < 1:
        raise JudgeError("max_tokens: at least 1.")
    run = JudgeRun.objects.create(
        study=study, endpoint=endpoint, judge_name=endpoint.name, judge_model=endpoint.model, template=template,
        max_tokens=max_tokens, temperature=temperature, total=study.items.count(),
        created_by=user if user is not None and user.is_authenticated else None,
    )
    return enqueue(run) if run_async else run


def run_now(run: JudgeRun) -> JudgeRun:
    """Run a queued judge run in this process (the command without --async)."""
    return execute(run._meta.label_lower, run.pk) or JudgeRun.objects.get(pk=run.pk)


def resume_judge_run(run: JudgeRun, run_async: bool = True) -> JudgeRun:
    """Queue a failed or cancelled run again: the cache answers every call it already received."""
    started = JudgeRun.objects.filter(pk=run.pk, status__in=(JudgeRun.Status.FAILED, JudgeRun.Status.CANCELLED)).update(
        status=JudgeRun.Status.QUEUED, cancel_requested=False, error="", finished_at=None, phase="",
    )
    run.refresh_from_db()
    if not started:
        raise JudgeError(f"Judge run #{run.pk} is {run.status}: only a failed or cancelled run starts again.")
    return enqueue(run) if run_async else run_now(run)


def cancel_judge_run(run: JudgeRun) -> JudgeRun:
    try:
        return cancel(run)
    except JobStateError as error:
        raise JudgeError(str(error)) from None


def summary(run: JudgeRun) -> dict:
    """The command's --json line."""
    return {"judge_run": run.pk, "status": run.status, "items": run.items, "wins": run.wins, "ties": run.ties,
            "losses": run.losses, "flip_rate": run.flip_rate, "unparseable": run.unparseable}


# --- Results ------------------------------------------------------------------------------------------------


def judge_comparisons(run: JudgeRun) -> list[stats.Comparison]:
    rows = run.verdicts.exclude(label="").values_list("item_id", "item__left__run_id", "item__right__run_id", "label")
    return [stats.Comparison(item, JUDGE, str(a), str(b), label) for item, a, b, label in rows]


def judge_ratings(run: JudgeRun) -> list[stats.Rating]:
    rows = run.verdicts.exclude(label="").values_list("item_id", "label", "item__left__run_id")
    return [stats.Rating(item, JUDGE, label, str(model)) for item, label, model in rows]


def judge_results(run: JudgeRun, n_resamples: int = stats.N_RESAMPLES) -> dict:
    """The judge's results beside the people's on the same study: win/tie/loss (or rating shares) with
    bootstrap intervals, its flip rate and unparseable answers, and its agreement with each person and with
    the majority on the items people labelled. Names the judge, its model and template; never a key."""
    study = run.study
    runs = study_runs(study)
    result = {
        "judge_run": run.pk, "status": run.status, "study": study.pk, "kind": study.kind,
        "judge": {"name": run.judge_name, "model": run.judge_model,
                  "base_url": run.endpoint.base_url if run.endpoint else ""},
        "template": run.template, "max_tokens": run.max_tokens, "temperature": run.temperature,
        "items": run.items, "wins": run.wins, "ties": run.ties, "losses": run.losses, "flips": run.flips,
        "flip_rate": run.flip_rate, "unparseable": run.unparseable, "calls": run.calls,
        "confidence": stats.CONFIDENCE, "n_resamples": n_resamples,
    }
    if study.kind == "rating":
        found = judge_ratings(run)
        names = {str(r.pk): r.name for r in runs}
        result["ratings"] = [
            {"run": int(model), "name": names.get(model, model), "n_items": s.n_items,
             "shares": {label: share(x) for label, x in s.shares.items()}}
            for model, s in stats.rating_shares_by_model(found, n_resamples=n_resamples).items()
        ]
        result["agreement"] = rating_agreement_with_people(found, study.protocol.ratings(study))
        return result
    found = judge_comparisons(run)
    items = study_items(study)
    result.update(summarise(found, items, runs, study.pairing, n_resamples))
    ranked = bradley_terry_ranking(found, items, runs, n_resamples)
    names = {str(r.pk): r.name for r in runs}
    result["ranking"] = [{"run": int(s.model), "name": names[s.model], "rating": round(s.rating, 1),
                          "low": round(s.low, 1), "high": round(s.high, 1)} for s in ranked.strengths]
    result["agreement"] = agreement_with_people(found, study.protocol.comparisons(study))
    return result


def agreement_with_people(judge: list[stats.Comparison], people: list[stats.Comparison]) -> dict:
    """LIMA's tie-discounted agreement of the judge with each person, and with the majority of people, on the
    items both labelled (LIMA.md: crowd–crowd 82 %, crowd–author 81 %, author–author 78 %)."""
    found = stats.agreement(judge + people)
    names = usernames({a for p in found.pairs for a in (p.annotator_1, p.annotator_2) if a != JUDGE})
    per_person = [
        {"annotator": names.get(other, str(other)), "n_items": p.n_items, "accuracy": round(p.accuracy, 4)}
        for p in found.pairs if JUDGE in (p.annotator_1, p.annotator_2)
        for other in [p.annotator_2 if p.annotator_1 == JUDGE else p.annotator_1]
    ]
    by_item: dict = {}
    for c in people:
        first = min(c.model_a, c.model_b)
        by_item.setdefault(c.item, []).append(stats.outcome_for(c, first))
    judged = {c.item: stats.outcome_for(c, min(c.model_a, c.model_b)) for c in judge}
    scores = []
    for item, outcomes in by_item.items():
        if item not in judged:
            continue
        (top, n), *rest = Counter(outcomes).most_common()
        if rest and rest[0][1] == n:
            continue  # no majority among people on this item
        scores.append(stats.tie_discounted_score(judged[item], top))
    majority = {"n_items": len(scores), "accuracy": round(sum(scores) / len(scores), 4) if scores else None}
    return {"people": per_person, "majority": majority,
            "mean": round(sum(p["accuracy"] for p in per_person) / len(per_person), 4) if per_person else None}


def rating_agreement_with_people(judge: list[stats.Rating], people: list[stats.Rating]) -> dict:
    mine = {r.item: r.label for r in judge}
    by_person: dict = {}
    for r in people:
        by_person.setdefault(r.annotator, {})[r.item] = r.label
    names = usernames(by_person)
    rows = []
    for person, labels in sorted(by_person.items(), key=lambda kv: str(kv[0])):
        shared = sorted(set(labels) & set(mine), key=str)
        if not shared:
            continue
        theirs, ours = [labels[i] for i in shared], [mine[i] for i in shared]
        rows.append({"annotator": names.get(person, str(person)), "n_items": len(shared),
                     "accuracy": round(sum(a == b for a, b in zip(theirs, ours)) / len(shared), 4),
                     "weighted_kappa": _rounded(analytics.weighted_kappa(ours, theirs, stats.RATINGS))})
    return {"people": rows, "mean": round(sum(r["accuracy"] for r in rows) / len(rows), 4) if rows else None}


def _rounded(value):
    return None if value is None else round(value, 4)


def cached_judge_results(run: JudgeRun) -> dict:
    """judge_results, kept until the run or the people's labels change (its bootstraps take a moment)."""
    import hashlib

    from django.core.cache import cache

    labels = run.study.protocol.labels_of(run.study)
    latest = labels.order_by("-updated_at").values_list("updated_at", flat=True).first()
    state = f"{run.status}|{run.finished_at}|{labels.count()}|{latest}"
    key = f"judge-results-{run.pk}-{hashlib.sha1(state.encode()).hexdigest()}"
    found = cache.get(key)
    if found is None:
        found = judge_results(run)
        cache.set(key, found, 600)
    return found


def judging_context(study, user, human: dict) -> dict:
    """The study page's judge card: its runs, the latest finished one beside the people, the start form."""
    from inference.endpoints.models import ModelEndpoint

    runs = list(study.judge_runs.select_related("endpoint")[:10])
    latest = next((run for run in runs if run.status == JudgeRun.Status.SUCCEEDED), None)
    found = cached_judge_results(latest) if latest is not None else None
    side_by_side = []
    if found is not None and study.kind == "pairwise":
        side_by_side = list(zip(human.get("pairs", []), found["pairs"]))
    elif found is not None:
        judged = {row["run"]: row for row in found["ratings"]}
        side_by_side = [(row, judged.get(row["run"])) for row in human.get("ratings", [])]
    return {
        "runs": runs, "latest": latest, "found": found, "side_by_side": side_by_side,
        "polling": any(run.is_active for run in runs),
        "can_start": user.has_perm("inference.add_judgerun") and study.kind in KINDS,
        "endpoints": list(ModelEndpoint.objects.all()) if user.has_perm("inference.add_judgerun") else [],
        "default_template": verdicts.default_template(study.kind),
    }
