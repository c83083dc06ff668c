"""The dashboard's figures: composition against LIMA's targets, length histograms, review activity and
agreement between reviewers.

The aggregations are pure functions over plain rows; `load_*` functions at the bottom read those rows from the
database in a few queries. Lengths are in estimated tokens (curation.workspace.lint.estimate_tokens), like
LIMA's Table 1.
"""
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import timedelta

from core.stats import Comparison, agreement
from curation.sources import plugins
from curation.sources.stem_sites import load_site_groups
from curation.workspace.lint import estimate_tokens

SPLITS = ("train", "dev", "test")

# LIMA.md, Table 1: 1,000 train examples, 50 dev, 300 test (70 r/AskReddit + 230 hand-written).
LIMA_TARGETS = {
    ("train", "se_stem"): 200,
    ("train", "se_other"): 200,
    ("train", "wikihow"): 200,
    ("train", "writingprompts"): 150,
    ("train", "ni"): 50,
    ("train", "hand_written"): 200,
    ("dev", "hand_written"): 50,
    ("test", "askreddit"): 70,
    ("test", "hand_written"): 230,
}

# LIMA.md, Table 1: average prompt and response length in tokens per training source.
LIMA_AVERAGE_TOKENS = {
    "se_stem": (117, 523),
    "se_other": (119, 530),
    "wikihow": (12, 1811),
    "writingprompts": (34, 274),
    "ni": (236, 92),
    "hand_written": (40, 334),
}

# Histogram bins in tokens, doubling: LIMA's averages run from 12 to 1,811 tokens.
LENGTH_EDGES = (0, 16, 32, 64, 128, 256, 512, 1024, 2048)

# How a review decision counts in LIMA's tie-discounted agreement (LIMA.md, Evaluation): approve and reject
# are the two opposite labels, "needs edit" is the tie (neither clearly good nor clearly bad). Two reviewers
# who agree score 1, one "needs edit" against a decision scores 0.5, approve against reject scores 0.
DECISION_LABEL = {"approve": "A", "reject": "B", "needs_edit": "tie"}


def bucket_of(kind, domain="", metadata=None, site_groups=None):
    """The LIMA source group of an example from its source kind, domain and metadata (its source module says).

    site_groups: the STEM/other mapping (curation.sources.stem_sites.load_site_groups()); read once per call if not given.
    """
    try:
        source = plugins.get(kind)
    except LookupError:
        return "other"
    return source.bucket_of(domain, metadata, site_groups)


# --- Composition -----------------------------------------------------------------------------------------

@dataclass
class Cell:
    target: int | None = None
    approved: int = 0
    candidate: int = 0
    rejected: int = 0

    @property
    def percent(self):
        """Approved as a share of the target, capped at 100 for the progress bar."""
        if not self.target:
            return 100 if self.approved else 0
        return min(100, round(100 * self.approved / self.target))

    @property
    def done(self):
        return bool(self.target) and self.approved >= self.target


@dataclass
class CompositionRow:
    bucket: str
    label: str
    cells: dict  # split -> Cell (train, dev, test, unassigned)


@dataclass
class Composition:
    rows: list
    totals: dict  # split -> Cell


def composition(counts, targets):
    """Approved / candidate / rejected counts per (bucket, split) next to the targets.

    counts: rows (bucket, status, split, n). targets: {(split, bucket): n}.
    """
    cells = defaultdict(Cell)
    for (split, bucket), target in targets.items():
        cells[(bucket, split)].target = target
    for bucket, status, split, n in counts:
        cell = cells[(bucket, split)]
        setattr(cell, status, getattr(cell, status) + n)
    present = {bucket for bucket, _ in cells}
    buckets = plugins.buckets()  # source groups in LIMA's Table 1 order, each source module declaring its own
    order = [b for b in buckets if b in present] + sorted(present - set(buckets))
    rows, totals = [], {}
    for split in (*SPLITS, "unassigned"):
        total = Cell(target=0 if split != "unassigned" else None)
        for bucket in order:
            cell = cells.get((bucket, split), Cell())
            if cell.target is not None and total.target is not None:
                total.target += cell.target
            total.approved += cell.approved
            total.candidate += cell.candidate
            total.rejected += cell.rejected
        totals[split] = total
    for bucket in order:
        rows.append(CompositionRow(
            bucket, buckets.get(bucket, bucket),
            {split: cells.get((bucket, split), Cell()) for split in (*SPLITS, "unassigned")},
        ))
    return Composition(rows, totals)


# --- Lengths ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Bin:
    low: int
    high: int | None  # None: and above
    count: int

    @property
    def label(self):
        return f"{self.low:,}+" if self.high is None else f"{self.low:,}–{self.high - 1:,}"


def histogram(values, edges=LENGTH_EDGES):
    counts = [0] * len(edges)
    for value in values:
        index = len(edges) - 1
        for i in range(1, len(edges)):
            if value < edges[i]:
                index = i - 1
                break
        counts[index] += 1
    return [Bin(edges[i], edges[i + 1] if i + 1 < len(edges) else None, counts[i]) for i in range(len(edges))]


@dataclass
class LengthSummary:
    bucket: str
    label: str
    n: int
    prompt_bins: list
    response_bins: list
    prompt_mean: float
    response_mean: float
    lima_prompt_mean: int | None
    lima_response_mean: int | None


def length_summaries(rows):
    """rows: (bucket, prompt_tokens, response_tokens or None for a lone prompt)."""
    prompts, responses = defaultdict(list), defaultdict(list)
    for bucket, prompt_tokens, response_tokens in rows:
        prompts[bucket].append(prompt_tokens)
        if response_tokens is not None:
            responses[bucket].append(response_tokens)
    buckets = plugins.buckets()
    order = [b for b in buckets if b in prompts] + sorted(set(prompts) - set(buckets))
    mean = (lambda xs: sum(xs) / len(xs) if xs else 0.0)
    summaries = []
    for bucket in order:
        lima = LIMA_AVERAGE_TOKENS.get(bucket, (None, None))
        summaries.append(LengthSummary(
            bucket, buckets.get(bucket, bucket), len(prompts[bucket]),
            histogram(prompts[bucket]), histogram(responses[bucket]),
            mean(prompts[bucket]), mean(responses[bucket]), lima[0], lima[1],
        ))
    return summaries


# --- Review activity -------------------------------------------------------------------------------------

@dataclass
class ActivityRow:
    reviewer: str
    counts: list  # one per day, oldest first
    total: int


@dataclass
class Activity:
    days: list  # dates, oldest first
    rows: list
    max_count: int


def reviews_per_day(rows, today, days=14):
    """rows: (reviewer name, date of the review). The last `days` days up to today, busiest reviewer first."""
    window = [today - timedelta(days=offset) for offset in range(days - 1, -1, -1)]
    per_reviewer = defaultdict(Counter)
    for reviewer, day in rows:
        if window[0] <= day <= today:
            per_reviewer[reviewer][day] += 1
    activity_rows = [
        ActivityRow(reviewer, [counter[day] for day in window], sum(counter.values()))
        for reviewer, counter in per_reviewer.items()
    ]
    activity_rows.sort(key=lambda row: (-row.total, row.reviewer))
    max_count = max((max(row.counts) for row in activity_rows), default=0)
    return Activity(window, activity_rows, max_count)


# --- Agreement -------------------------------------------------------------------------------------------

@dataclass
class ReviewAgreement:
    items: int  # examples decided by two reviewers or more
    mean: float | None  # tie-discounted accuracy averaged over reviewer pairs, 0..1
    pairs: list = field(default_factory=list)  # core.stats.PairAgreement


def review_agreement(rows):
    """rows: (example_id, reviewer, decision, created_at). Each reviewer's latest decision on an item counts."""
    latest = {}
    for example_id, reviewer, decision, created_at in rows:
        key = (example_id, reviewer)
        if key not in latest or created_at > latest[key][1]:
            latest[key] = (decision, created_at)
    reviewers_of = Counter(example_id for example_id, _ in latest)
    shared = {example_id for example_id, n in reviewers_of.items() if n >= 2}
    comparisons = [
        Comparison(item=example_id, annotator=reviewer, model_a="approve", model_b="reject",
                   label=DECISION_LABEL[decision])
        for (example_id, reviewer), (decision, _) in latest.items()
        if example_id in shared and decision in DECISION_LABEL
    ]
    result = agreement(comparisons)
    return ReviewAgreement(len(shared), result.mean, result.pairs)


# --- Reading the rows ------------------------------------------------------------------------------------

def load_targets():
    from curation.models import CompositionTarget

    targets = dict(LIMA_TARGETS)
    for row in CompositionTarget.objects.all():
        targets[(row.split, row.bucket)] = row.target
    return {key: value for key, value in targets.items() if value}


def _examples_with_buckets():
    from curation.models import Example

    return Example.objects.values_list("pk", "source__kind", "domain", "metadata", "status", "split")


def load_composition():
    counts = Counter()
    groups = load_site_groups()
    for _, kind, domain, metadata, status, split in _examples_with_buckets().iterator(chunk_size=2000):
        counts[(bucket_of(kind, domain, metadata, groups), status, split)] += 1
    return composition([(*key, n) for key, n in counts.items()], load_targets())


def load_length_summaries():
    from curation.models import Turn

    groups = load_site_groups()
    buckets = {pk: bucket_of(kind, domain, metadata, groups)
               for pk, kind, domain, metadata, _, _ in _examples_with_buckets().iterator(chunk_size=2000)}
    first_two = defaultdict(dict)
    for example_id, position, text in (
        Turn.objects.filter(position__lt=2).values_list("example_id", "position", "text").iterator(chunk_size=2000)
    ):
        first_two[example_id][position] = estimate_tokens(text)
    rows = [(buckets[pk], turns.get(0, 0), turns.get(1)) for pk, turns in first_two.items() if pk in buckets]
    return length_summaries(rows)


def load_activity(today, days=14):
    from django.utils import timezone

    from curation.models import Review

    since = today - timedelta(days=days - 1)
    reviews = Review.objects.filter(created_at__date__gte=since).values_list("reviewer__username", "created_at")
    return reviews_per_day([(name, timezone.localdate(created)) for name, created in reviews], today, days)


def load_agreement():
    from curation.models import Review

    rows = Review.objects.values_list("example_id", "reviewer__username", "decision", "created_at")
    return review_agreement(rows)
