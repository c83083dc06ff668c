"""Verbs of human evaluation: create a blind study, hand items to annotators, record their labels.

What an item shows and which labels it takes is the study's protocol (inference.protocols: LIMA's
pairwise A / B / neither, or Fail / Pass / Excellent); these verbs are the same for every protocol.
Several annotators may label an item (the study's overlap); each only ever sees the item, never another
person's label.
"""
from __future__ import annotations

import inspect
import random
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Count, IntegerField, OuterRef, Subquery, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from inference import protocols
from inference.models import Claim, Generation, GenerationRun, Study, StudyItem, StudyRun


class StudyError(ValueError):
    """A study cannot be created or labelled as asked; nothing was changed."""


def _natural(key: str):
    return (0, int(key), "") if key.isdigit() else (1, 0, key)


@transaction.atomic
def create_study(
    *, name: str, runs: list[GenerationRun], kind: str = protocols.DEFAULT, pairing: str = Study.Pairing.FIRST,
    overlap: int = 1, sample_size: int | None = None, seed: int = 0, instructions: str = "", user=None,
    pairs_per_prompt: int = 1,
) -> Study:
    """A study of `runs` (in this order) over the prompts they all answered.

    The seed draws the prompt sample, the left/right side of every pair and the order items are met
    in; the same runs and seed give the same study. Raises StudyError with nothing created.
    """
    try:
        protocol = protocols.get(kind)
    except LookupError as error:
        raise StudyError(str(error)) from None
    runs = list(runs)
    if len({run.pk for run in runs}) != len(runs):
        raise StudyError("A run appears twice.")
    refused = protocol.check_runs(runs)
    if refused:
        raise StudyError(refused)
    if not runs:
        raise StudyError("Choose at least one generation run.")
    unfinished = [run for run in runs if run.status != GenerationRun.Status.SUCCEEDED]
    if unfinished:
        raise StudyError(f"Generation #{unfinished[0].pk} ({unfinished[0].name}) has not succeeded.")
    if overlap < 1:
        raise StudyError("Overlap: at least one annotator per item.")
    if pairing not in Study.Pairing.values:
        raise StudyError(f"Unknown pairing {pairing!r}: choose one of {', '.join(Study.Pairing.values)}.")
    if pairs_per_prompt < 1:
        raise StudyError("Pairs per prompt: at least one.")
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
        name=name, kind=kind, pairing=pairing, pairs_per_prompt=pairs_per_prompt, overlap=overlap, sample_size=sample_size, seed=seed,
        instructions=instructions, created_by=user if user is not None and user.is_authenticated else None,
    )
    StudyRun.objects.bulk_create(StudyRun(study=study, run=run, position=i) for i, run in enumerate(runs))

    # Only a protocol that offers drawn pairs takes their number (the others keep the plain interface).
    takes_pairs = "pairs_per_prompt" in inspect.signature(protocol.build_items).parameters
    extra = {"pairs_per_prompt": pairs_per_prompt} if pairing == Study.Pairing.SAMPLED and takes_pairs else {}
    entries = protocol.build_items(keys, runs, generations, pairing, rng, **extra)  # (prompt_key, left, right)
    rng.shuffle(entries)  # a pair's items and a prompt's items are spread through the study
    StudyItem.objects.bulk_create(
        StudyItem(study=study, position=position, prompt_key=key, left=left, right=right)
        for position, (key, left, right) in enumerate(entries, 1)
    )
    return study


def labels_of(study: Study):
    return study.protocol.labels_of(study)


# --- Handing out items --------------------------------------------------------------------------------


def claim_seconds() -> int:
    return settings.REVIEW_CLAIM_SECONDS


def labelled_positions(study: Study, user) -> list[int]:
    return list(labels_of(study).filter(annotator=user).order_by("item__position").values_list("item__position", flat=True))


def _available(study: Study, user, now):
    """Items the user has not labelled and that still need a label beyond those given or promised."""
    protocol = study.protocol
    labels = protocol.label_model.objects.filter(item=OuterRef("pk")).values("item").annotate(n=Count("pk")).values("n")
    others_claims = (
        Claim.objects.filter(item=OuterRef("pk"), until__gt=now).exclude(annotator=user)
        .values("item").annotate(n=Count("pk")).values("n")
    )
    zero = Value(0, output_field=IntegerField())
    return (
        study.items.exclude(**{f"{protocol.label_relation}__annotator": user})
        .annotate(taken=Coalesce(Subquery(labels, output_field=IntegerField()), zero)
                  + Coalesce(Subquery(others_claims, output_field=IntegerField()), zero))
        .filter(taken__lt=study.overlap)
        .order_by("position")
    )


def current_claim(study: Study, user, now=None) -> StudyItem | None:
    """The unlabelled item the user holds, if their claim is still live."""
    now = now or timezone.now()
    return (
        study.items.filter(claims__annotator=user, claims__until__gt=now)
        .exclude(**{f"{study.protocol.label_relation}__annotator": user})
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
    if labels_of(item.study).filter(item=item, annotator=user).exists():
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
    """Save (or change) the user's label on an item; returns the row of the protocol's label model."""
    study = item.study
    protocol = study.protocol
    if label not in protocol.label_values:
        raise StudyError(f"Unknown label {label!r}: choose one of {', '.join(protocol.label_values)}.")
    if not study.is_open:
        raise StudyError("This study is closed.")
    # Labels of one item take turns (the item's row is locked): two clicks of the same annotator at once make
    # one label, not a unique-constraint error, and an item never gets more labels than it needs.
    StudyItem.objects.select_for_update().filter(pk=item.pk).first()
    existing = protocol.label_model.objects.filter(item=item, annotator=user).first()
    if existing is not None:
        if not user.has_perm(protocol.permission("change")):
            raise PermissionDenied(f"You need the {protocol.permission('change')} permission.")
        existing.label = label
        existing.save(update_fields=["label", "updated_at"])
        return existing
    if not user.has_perm(protocol.permission("add")):
        raise PermissionDenied(f"You need the {protocol.permission('add')} permission.")
    if not may_open(item, user) and not _available(study, user, timezone.now()).filter(pk=item.pk).exists():
        raise StudyError("This item has all the labels it needs.")
    saved = protocol.label_model.objects.create(item=item, annotator=user, label=label)
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
        "complete_items": study.items.annotate(n=Count(study.protocol.label_relation))
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
