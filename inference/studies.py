"""Verbs of human evaluation: create a blind study, hand items to annotators, record their labels.

The protocol is LIMA's (LIMA.md, Evaluation): one prompt and two responses, in a random left/right
order; the annotator says which is better or that neither is significantly better. Or one response
rated Fail / Pass / Excellent. Several annotators may label an item (the study's overlap); each only
ever sees the item, never another person's label.
"""
from __future__ import annotations

import itertools
import random
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Count, IntegerField, OuterRef, Subquery, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from inference.models import Claim, Generation, GenerationRun, Judgment, Rating, Study, StudyItem, StudyRun


class StudyError(ValueError):
    """A study cannot be created or labelled as asked; nothing was changed."""


def _natural(key: str):
    return (0, int(key), "") if key.isdigit() else (1, 0, key)


def pairs_of(study_runs: list, pairing: str) -> list[tuple]:
    """The run pairs a pairwise study compares, each as (first, second) in the study's run order."""
    if pairing == Study.Pairing.FIRST:
        return [(study_runs[0], other) for other in study_runs[1:]]
    return list(itertools.combinations(study_runs, 2))


@transaction.atomic
def create_study(
    *, name: str, runs: list[GenerationRun], kind: str = Study.Kind.PAIRWISE, pairing: str = Study.Pairing.FIRST,
    overlap: int = 1, sample_size: int | None = None, seed: int = 0, instructions: str = "", user=None,
) -> Study:
    """A study of `runs` (in this order) over the prompts they all answered.

    The seed draws the prompt sample, the left/right side of every pair and the order items are met
    in; the same runs and seed give the same study. Raises StudyError with nothing created.
    """
    runs = list(runs)
    if len({run.pk for run in runs}) != len(runs):
        raise StudyError("A run appears twice.")
    if kind == Study.Kind.PAIRWISE and len(runs) < 2:
        raise StudyError("A pairwise study needs at least two generation runs.")
    if not runs:
        raise StudyError("Choose at least one generation run.")
    unfinished = [run for run in runs if run.status != GenerationRun.Status.SUCCEEDED]
    if unfinished:
        raise StudyError(f"Generation #{unfinished[0].pk} ({unfinished[0].name}) has not succeeded.")
    if overlap < 1:
        raise StudyError("Overlap: at least one annotator per item.")
    if sample_size is not None and sample_size < 1:
        raise StudyError("The sample size must be at least 1, or empty for every prompt.")

    generations = {
        run.pk: {g.prompt_key: g for g in Generation.objects.filter(run=run).only("pk", "prompt_key", "run_id")}
        for run in runs
    }
    shared = set.intersection(*(set(by_key) for by_key in generations.values()))
    if not shared:
        raise StudyError("These runs share no prompt: generate them over the same prompt set.")
    rng = random.Random(seed)
    keys = sorted(shared, key=_natural)
    if sample_size is not None and sample_size < len(keys):
        keys = sorted(rng.sample(keys, sample_size), key=_natural)

    study = Study.objects.create(
        name=name, kind=kind, pairing=pairing, overlap=overlap, sample_size=sample_size, seed=seed,
        instructions=instructions, created_by=user if user is not None and user.is_authenticated else None,
    )
    StudyRun.objects.bulk_create(StudyRun(study=study, run=run, position=i) for i, run in enumerate(runs))

    entries = []  # (prompt_key, left, right)
    for key in keys:
        if kind == Study.Kind.PAIRWISE:
            for first, second in pairs_of(runs, pairing):
                a, b = generations[first.pk][key], generations[second.pk][key]
                entries.append((key, b, a) if rng.random() < 0.5 else (key, a, b))
        else:
            entries.extend((key, generations[run.pk][key], None) for run in runs)
    rng.shuffle(entries)  # a pair's items and a prompt's items are spread through the study
    StudyItem.objects.bulk_create(
        StudyItem(study=study, position=position, prompt_key=key, left=left, right=right)
        for position, (key, left, right) in enumerate(entries, 1)
    )
    return study


def label_model(study: Study):
    return Judgment if study.is_pairwise else Rating


def labels_of(study: Study):
    return label_model(study).objects.filter(item__study=study)


# --- Handing out items --------------------------------------------------------------------------------


def claim_seconds() -> int:
    return settings.REVIEW_CLAIM_SECONDS


def labelled_positions(study: Study, user) -> list[int]:
    return list(labels_of(study).filter(annotator=user).order_by("item__position").values_list("item__position", flat=True))


def _available(study: Study, user, now):
    """Items the user has not labelled and that still need a label beyond those given or promised."""
    Label = label_model(study)
    labels = Label.objects.filter(item=OuterRef("pk")).values("item").annotate(n=Count("pk")).values("n")
    others_claims = (
        Claim.objects.filter(item=OuterRef("pk"), until__gt=now).exclude(annotator=user)
        .values("item").annotate(n=Count("pk")).values("n")
    )
    zero = Value(0, output_field=IntegerField())
    return (
        study.items.exclude(**{f"{Label._meta.get_field('item').related_query_name()}__annotator": user})
        .annotate(taken=Coalesce(Subquery(labels, output_field=IntegerField()), zero)
                  + Coalesce(Subquery(others_claims, output_field=IntegerField()), zero))
        .filter(taken__lt=study.overlap)
        .order_by("position")
    )


def current_claim(study: Study, user, now=None) -> StudyItem | None:
    """The unlabelled item the user holds, if their claim is still live."""
    now = now or timezone.now()
    label_relation = label_model(study)._meta.get_field("item").related_query_name()
    return (
        study.items.filter(claims__annotator=user, claims__until__gt=now)
        .exclude(**{f"{label_relation}__annotator": user})
        .order_by("position").first()
    )


def has_work(study: Study, user) -> bool:
    """Is something left for this user to label (without claiming it)?"""
    if not study.is_open:
        return False
    now = timezone.now()
    return current_claim(study, user, now) is not None or _available(study, user, now).exists()


def next_item(study: Study, user) -> StudyItem | None:
    """The item the user should label now, claimed for them; None when nothing is left for them."""
    if not study.is_open:
        return None
    now = timezone.now()
    held = current_claim(study, user, now)
    if held is not None:
        _claim(held, user, now)
        return held
    for candidate in _available(study, user, now)[:20]:
        with transaction.atomic():
            # Recount under a row lock (PostgreSQL): two people asking at once cannot both take the last slot.
            item = StudyItem.objects.select_for_update().get(pk=candidate.pk)
            if _available(study, user, now).filter(pk=item.pk).exists():
                _claim(item, user, now)
                return item
    return None


def _claim(item: StudyItem, user, now) -> None:
    Claim.objects.update_or_create(item=item, annotator=user,
                                   defaults={"until": now + timedelta(seconds=claim_seconds())})


def may_open(item: StudyItem, user) -> bool:
    """An annotator opens only items they labelled or hold: never someone else's queue."""
    if label_model(item.study).objects.filter(item=item, annotator=user).exists():
        return True
    return item.claims.filter(annotator=user, until__gt=timezone.now()).exists()


def step(study: Study, user, position: int, direction: int) -> StudyItem | None:
    """j / k: the user's next (or previous) labelled item from `position`; forward past the last
    labelled one is the item to label now."""
    positions = labelled_positions(study, user)
    if direction > 0:
        later = [p for p in positions if p > position]
        if later:
            return study.items.get(position=later[0])
        return next_item(study, user)
    earlier = [p for p in positions if p < position]
    return study.items.get(position=earlier[-1]) if earlier else None


# --- Labels ---------------------------------------------------------------------------------------------


@transaction.atomic
def record_label(item: StudyItem, user, label: str):
    """Save (or change) the user's label on an item; returns the Judgment or Rating."""
    study = item.study
    Label = label_model(study)
    if label not in Label.Label.values:
        raise StudyError(f"Unknown label {label!r}: choose one of {', '.join(Label.Label.values)}.")
    if not study.is_open:
        raise StudyError("This study is closed.")
    # Labels of one item take turns (the item's row is locked): two clicks of the same annotator at once make
    # one label, not a unique-constraint error, and an item never gets more labels than it needs.
    StudyItem.objects.select_for_update().filter(pk=item.pk).first()
    existing = Label.objects.filter(item=item, annotator=user).first()
    model_name = Label._meta.model_name
    if existing is not None:
        if not user.has_perm(f"inference.change_{model_name}"):
            raise PermissionDenied(f"You need the inference.change_{model_name} permission.")
        existing.label = label
        existing.save(update_fields=["label", "updated_at"])
        return existing
    if not user.has_perm(f"inference.add_{model_name}"):
        raise PermissionDenied(f"You need the inference.add_{model_name} permission.")
    if not may_open(item, user) and not _available(study, user, timezone.now()).filter(pk=item.pk).exists():
        raise StudyError("This item has all the labels it needs.")
    saved = Label.objects.create(item=item, annotator=user, label=label)
    Claim.objects.filter(item=item, annotator=user).delete()
    return saved


def progress(study: Study, user=None) -> dict:
    """Counts for the study's pages: items, labels given and wanted, and the user's own share."""
    items = study.items.count()
    labels = labels_of(study)
    counts = {
        "items": items,
        "labels": labels.count(),
        "wanted": items * study.overlap,
        "complete_items": study.items.annotate(n=Count(label_model(study)._meta.get_field("item").related_query_name()))
        .filter(n__gte=study.overlap).count(),
        "annotators": labels.values("annotator").distinct().count(),
    }
    if user is not None:
        counts["mine"] = labels.filter(annotator=user).count()
    counts["percent"] = round(100 * min(counts["labels"], counts["wanted"]) / counts["wanted"]) if counts["wanted"] else 0
    return counts


def set_open(study: Study, is_open: bool) -> Study:
    study.is_open = is_open
    study.save(update_fields=["is_open"])
    if not is_open:
        Claim.objects.filter(item__study=study).delete()
    return study
