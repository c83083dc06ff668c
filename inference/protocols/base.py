"""The interface of an evaluation protocol and the registry of them (see the package's docstring)."""
from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Iterable
from dataclasses import dataclass

from core import stats


@dataclass(frozen=True)
class Label:
    """One answer an annotator can give, as a button with its keyboard shortcuts."""

    value: str  # stored in the label model's `label` column; what the page and the API post
    text: str  # the button and the shortcut help
    key: str  # its shortcut, "1" (static/js/study.js presses the button whose data-key or data-alt-key it is)
    alt: str = ""  # a second shortcut, "a"
    css: str = ""  # the button's class


# The columns every label row has: the item, the label, and the generations, runs and checkpoints behind it.
LINEAGE_COLUMNS = [
    "study", "item", "prompt_key", "annotator", "label", "left_run", "left_model", "left_generation",
    "right_run", "right_model", "right_generation", "checkpoint_left", "checkpoint_right", "labelled_at",
]


class Protocol:
    """The interface. A protocol is a stateless object; the registry holds one of each kind."""

    kind: str  # Study.kind (16 characters at most)
    title: str  # the choice on the new-study form
    name: str  # the studies list's "Kind" column
    heading: str  # the study page's eyebrow
    blind_name: str  # the labelling page's eyebrow
    label_model: type  # where a label is stored: a model with item, annotator, label, created_at, updated_at
    labels: tuple[Label, ...]  # in the order the buttons show them
    responses_per_item: int  # 2: the item's left and right, shown as A and B; 1: its left alone
    item_template: str  # the responses of one item, inside the labelling panel
    results_template: str  # this protocol's block of the results page
    ranking_note: str  # how the ranking's score is computed, shown beside it
    ranking_name: str = "mean points"  # what orders the ranking (its `ranking()` when it has one)
    columns: list[str] = LINEAGE_COLUMNS  # the CSV download's header

    # --- Building a study ---------------------------------------------------------------------------------

    def check_runs(self, runs: list) -> str | None:
        """Why these runs (in the study's order) cannot make a study of this kind; None when they can."""
        return None

    def build_items(self, keys: list[str], runs: list, generations: dict, pairing: str, rng) -> list[tuple]:
        """The study's items as (prompt_key, left, right or None), before they are shuffled.

        `generations` maps run pk -> prompt_key -> Generation; `rng` is the study's seeded random.Random.
        """
        raise NotImplementedError

    # --- Labelling --------------------------------------------------------------------------------------

    @property
    def label_values(self) -> list[str]:
        return [label.value for label in self.labels]

    @property
    def label_relation(self) -> str:
        """The name StudyItem queries its labels by ("judgments", "ratings")."""
        return self.label_model._meta.get_field("item").related_query_name()

    def permission(self, action: str) -> str:
        """The permission to "add", "change" or "view" labels of this kind: inference.add_judgment."""
        return f"{self.label_model._meta.app_label}.{action}_{self.label_model._meta.model_name}"

    def labels_of(self, study):
        return self.label_model.objects.filter(item__study=study)

    def generations(self, item) -> list:
        """The responses an annotator sees on the item, in order (A then B)."""
        return [item.left, item.right][: self.responses_per_item]

    # --- Results ----------------------------------------------------------------------------------------

    def results(self, study, runs: list, n_resamples: int) -> dict:
        """This protocol's part of the study's results, merged into the results dict. It has an "agreement"
        key: {"mean": 0..1 or None where no two annotators share an item, "pairs": [...], ...}."""
        raise NotImplementedError

    def scores(self, study) -> dict[str, list[float]]:
        """Points in [0, 1] per run pk (as a string) for the ranking; a run's score is their mean."""
        raise NotImplementedError

    def ranking(self, study, runs: list, n_resamples: int):
        """An inference.analytics.Ranking of the runs (keyed by run pk as a string) with intervals, or None to
        rank by the mean of `scores` without one."""
        return None

    def chart(self, results: dict):
        """The results page's chart (core.charts.stacked), or None."""
        return None

    def label_rows(self, study, runs: list) -> Iterable[dict]:
        """One row per label with its lineage: the CSV download and the JSON's "labels"."""
        related = ["annotator", "item__left__run", "item__right__run"]
        for label in self.labels_of(study).select_related(*related).order_by("item__position", "pk"):
            yield lineage_row(study, label)

    def __repr__(self):
        return f"<{type(self).__name__} {self.kind!r}>"


def lineage_row(study, label) -> dict:
    item = label.item
    left, right = item.left, item.right
    return {
        "study": study.pk, "item": item.position, "prompt_key": item.prompt_key,
        "annotator": label.annotator.get_username(), "label": label.label,
        "left_run": left.run_id, "left_model": left.run.name, "left_generation": left.pk,
        "right_run": right.run_id if right else "", "right_model": right.run.name if right else "",
        "right_generation": right.pk if right else "",
        "checkpoint_left": left.run.checkpoint_id or "",
        "checkpoint_right": (right.run.checkpoint_id or "") if right else "",
        "labelled_at": label.updated_at.isoformat(),
    }


def share(found: stats.Share) -> dict:
    """A percentage and its interval, rounded for the page, the API and the JSON."""
    return {"percent": round(found.percent, 2), "low": round(found.low, 2), "high": round(found.high, 2)}


def usernames(ids) -> dict:
    from django.contrib.auth import get_user_model

    User = get_user_model()
    return {pk: name for pk, name in User.objects.filter(pk__in=ids).values_list("pk", User.USERNAME_FIELD)}


# --- The registry ------------------------------------------------------------------------------------------

REGISTRY: dict[str, Protocol] = {}
DEFAULT = "pairwise"  # a new study's kind unless chosen otherwise (LIMA's main evaluation)


def register(protocol: Protocol) -> Protocol:
    if protocol.kind in REGISTRY:
        raise ValueError(f"a protocol of kind {protocol.kind!r} is registered already")
    if len(protocol.kind) > 16:
        raise ValueError(f"kind {protocol.kind!r}: Study.kind holds 16 characters at most")
    keys = [key for label in protocol.labels for key in (label.key, label.alt) if key]
    if len(set(keys)) != len(keys) or {"j", "k", "?"} & set(keys):
        raise ValueError(f"{protocol.kind}: shortcuts must differ from each other and from j, k and ?")
    REGISTRY[protocol.kind] = protocol
    return protocol


def _discover():
    """Import each protocol module of this package once: each registers its protocol at its end."""
    global _discovered
    if not _discovered:
        _discovered = True
        for info in pkgutil.iter_modules(importlib.import_module("inference.protocols").__path__):
            if info.name != "base":
                importlib.import_module(f"inference.protocols.{info.name}")


_discovered = False


def get(kind: str) -> Protocol:
    _discover()
    try:
        return REGISTRY[kind]
    except KeyError:
        raise LookupError(f"No evaluation protocol of kind {kind!r}: known are {', '.join(REGISTRY)}.") from None


def all_protocols() -> list[Protocol]:
    _discover()
    return list(REGISTRY.values())


def choices() -> list[tuple[str, str]]:
    """(kind, title) of every protocol: Study.kind's choices and the new-study form's."""
    _discover()
    return [(protocol.kind, protocol.title) for protocol in REGISTRY.values()]
