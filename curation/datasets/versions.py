"""Dataset versions: check a selection, freeze it as exact revisions, describe it, diff two versions.

The content hash of a version is its identity, defined over content only, never database ids or
the order examples were created in:

    row     = UTF-8 of the compact JSON array [split, source, turns]
              (source = the LIMA `source` label as exported, turns = LIMA's flat list of texts)
    digest  = sha256(row), in hex
    hash    = sha256 of the sorted digests joined by "\\n", in hex

Sorting digests (64 bytes each) rather than rows keeps memory small for big versions, and makes the
hash a function of the multiset of rows: the same content always gives the same hash.

Pure pieces (Selection, canonical rows, ManifestBuilder, diff_indexes) are plain functions and
classes; the functions that touch the database are at the end of the module.
"""
from __future__ import annotations

import hashlib
import json
import math
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.core.exceptions import EmptyResultSet
from django.db import connection, transaction
from django.db.models import Count, F, IntegerField, Value

from curation.datasets.contamination import OverlapFinder
from curation.datasets.exports import SPLITS, source_label
from curation.models import DatasetItem, DatasetVersion, Example, Revision, Source, source_kinds

EVAL_SPLITS = ("dev", "test")
SHOWN_PAIRS = 200  # contamination pairs kept in a manifest and shown on a page
PROMPT_EXCERPT = 240
MAX_ID = 2**63 - 1  # a larger id is no row; the database drivers refuse to even send it


# --- Errors -----------------------------------------------------------------------------------------

class FreezeError(ValueError):
    """A selection that cannot be frozen; `field` names the input at fault."""

    def __init__(self, message, field="selection"):
        self.field = field
        super().__init__(message)


class DuplicateTrainExamples(FreezeError):
    """Train holds the same conversation more than once: training would weigh it twice."""

    def __init__(self, groups):
        self.groups = groups  # [[example id, ...], ...], each list the same content
        listed = "; ".join(" = ".join(f"#{pk}" for pk in group) for group in groups[:20])
        more = f" (and {len(groups) - 20} more groups)" if len(groups) > 20 else ""
        super().__init__(
            f"Exact duplicates in train: {listed}{more}. Reject or edit all but one of each group, then freeze again.",
            field="selection",
        )


class NearDuplicateExamples(FreezeError):
    """Train holds near-duplicates (of each other, or of dev/test examples): the same answer under two prompts,
    a prompt reworded, a sentence appended (curation.dedupe)."""

    def __init__(self, pairs):
        self.pairs = pairs  # describe_near_duplicates' dicts
        listed = "; ".join(f"#{p['a']} ({p['a_split']}) ~ #{p['b']} ({p['b_split']}), same {p['kind']}"
                           for p in pairs[:20])
        more = f" (and {len(pairs) - 20} more pairs)" if len(pairs) > 20 else ""
        super().__init__(
            f"Near-duplicates in train or between train and dev/test: {listed}{more}. Keep one of each pair "
            "(/duplicates/), then freeze again.",
            field="selection",
        )


# --- Selection ----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Selection:
    """Which examples a version is frozen from. Empty filters select everything."""

    status: str = Example.Status.APPROVED  # "" selects every status
    sources: tuple = ()  # Source kinds ("stackexchange") or Source ids
    domains: tuple = ()
    splits: tuple = ()
    tags: tuple = ()  # an example qualifies when it carries any of these

    @classmethod
    def from_dict(cls, data):
        """A Selection from JSON-ish input, refusing unknown fields and values with the field's name."""
        data = dict(data or {})
        unknown = set(data) - {"status", "sources", "domains", "splits", "tags"}
        if unknown:
            raise FreezeError(f"Unknown selection field(s): {', '.join(sorted(unknown))}.", field=sorted(unknown)[0])
        status = data.get("status", Example.Status.APPROVED)
        if status in (None, "any"):
            status = ""
        if status and status not in Example.Status.values:
            raise FreezeError(f"status must be one of {', '.join(Example.Status.values)} or empty.", field="status")
        lists = {}
        for name in ("sources", "domains", "splits", "tags"):
            value = data.get(name) or []
            if isinstance(value, (str, int)):
                value = [value]
            if not isinstance(value, (list, tuple)) or not all(isinstance(v, (str, int)) for v in value):
                raise FreezeError(f"{name} must be a list of strings.", field=name)
            lists[name] = tuple(sorted({str(v).strip() for v in value if str(v).strip()}))
        bad_splits = set(lists["splits"]) - set(SPLITS)
        if bad_splits:
            raise FreezeError(f"Unknown split(s): {', '.join(sorted(bad_splits))}.", field="splits")
        bad_sources = {
            s for s in lists["sources"] if not (s.isdigit() and int(s) <= MAX_ID) and s not in {kind for kind, _ in source_kinds()}
        }
        if bad_sources:
            raise FreezeError(
                f"Unknown source(s): {', '.join(sorted(bad_sources))}; use a kind "
                f"({', '.join(kind for kind, _ in source_kinds())}) or a source id.", field="sources",
            )
        return cls(status=status, **lists)

    def to_dict(self):
        return {
            "status": self.status, "sources": list(self.sources), "domains": list(self.domains),
            "splits": list(self.splits), "tags": list(self.tags),
        }


# --- Canonical rows and the content hash -----------------------------------------------------------------

def canonical_row(split, source, turns):
    return json.dumps([split, source, list(turns)], ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def row_digest(split, source, turns):
    return hashlib.sha256(canonical_row(split, source, turns)).hexdigest()


def combined_hash(digests):
    return hashlib.sha256("\n".join(sorted(digests)).encode("ascii")).hexdigest()


def content_hash_of(rows):
    """The hash of (split, source, turns) rows, in any order."""
    return combined_hash(row_digest(split, source, turns) for split, source, turns in rows)


# --- Manifest -------------------------------------------------------------------------------------------

def estimate_tokens(text):
    """About four characters a token: the usual rule of thumb for English under LLaMA/GPT BPE vocabularies.
    Set DATASET_TOKENIZER (a tokenizer.json) to count real tokens instead."""
    return (len(text) + 3) // 4


def token_counter():
    """(count function, description) from settings.DATASET_TOKENIZER, else the estimate."""
    path = getattr(settings, "DATASET_TOKENIZER", "")
    if not path:
        return estimate_tokens, "estimate: ceil(characters / 4)"
    from tokenizers import Tokenizer

    path = Path(path)
    tokenizer = Tokenizer.from_file(str(path / "tokenizer.json" if path.is_dir() else path))
    return (lambda text: len(tokenizer.encode(text, add_special_tokens=False).ids)), f"tokenizer: {path.name}"


def overlong_counter():
    """An OverlongCounter from settings.DATASET_TOKENIZER, or None without one (the estimate cannot say what the
    engine would trim; the engine and its tokenizer are only loaded when one is configured)."""
    path = getattr(settings, "DATASET_TOKENIZER", "")
    return OverlongCounter.from_path(path) if path else None


class OverlongCounter:
    """How many train examples the engine would trim at the recipe's default max_length, and of those how many
    would have an answer cut mid-way (trained without an EOT), per source: the engine's own encoding
    (training.engine.data.encode_example, the chat tokens added as training adds them)."""

    def __init__(self, tokenizer, name, max_length=None):
        from training.engine.recipe import Recipe

        self.tokenizer = tokenizer
        self.name = name
        self.max_length = max_length or Recipe().max_length
        self.examples = 0
        self.trimmed = Counter()
        self.cut = Counter()

    @classmethod
    def from_path(cls, path):
        """A tokenizer.json, or a folder holding one (with its tokenizer_config.json when there is one)."""
        from transformers import AutoTokenizer, PreTrainedTokenizerFast

        from training.engine.chat import add_chat_tokens

        path = Path(path)
        if path.is_dir() and (path / "tokenizer_config.json").is_file():
            tokenizer = AutoTokenizer.from_pretrained(str(path))
        else:
            tokenizer = PreTrainedTokenizerFast(tokenizer_file=str(path / "tokenizer.json" if path.is_dir() else path))
        add_chat_tokens(tokenizer)  # what the engine does to a base model's tokenizer before encoding
        return cls(tokenizer, path.name)

    def add(self, source, turns):
        from training.engine.data import encode_example

        if len(turns) < 2:
            return  # a lone prompt trains nothing (the runner leaves it out)
        self.examples += 1
        example = encode_example(self.tokenizer, list(turns), self.max_length, "cut", source)
        if example.trimmed:
            self.trimmed[source] += 1
        if example.cut:
            self.cut[source] += 1

    def build(self):
        return {
            "max_length": self.max_length, "split": Example.Split.TRAIN, "method": f"tokenizer: {self.name}, the engine's chat format",
            "examples": self.examples, "trimmed": sum(self.trimmed.values()), "cut": sum(self.cut.values()),
            "trimmed_by_source": dict(sorted(self.trimmed.items())), "cut_by_source": dict(sorted(self.cut.items())),
        }


def _bucket(tokens):
    """Upper bound of a power-of-two bucket: 64, 128, 256, ..."""
    return max(64, 1 << math.ceil(math.log2(tokens))) if tokens > 0 else 64


class ManifestBuilder:
    """Counts and length statistics of a version, built in one pass, one conversation at a time."""

    def __init__(self, count_tokens=estimate_tokens, token_method="estimate: ceil(characters / 4)"):
        self.count_tokens = count_tokens
        self.token_method = token_method
        self.examples = 0
        self.by_split = Counter()
        self.by_source = Counter()
        self.by_domain = Counter()
        self.by_turns = Counter()
        self.chars = {"prompt": 0, "response": 0}
        self.max_chars = {"prompt": 0, "response": 0}
        self.tokens = {"prompt": 0, "response": 0}
        self.tokens_by_split = Counter()
        self.source_tokens = defaultdict(lambda: {"prompt": 0, "response": 0})
        self.length_buckets = Counter()

    def add(self, *, split, source, domain, turns):
        prompt = [text for i, text in enumerate(turns) if i % 2 == 0]
        response = [text for i, text in enumerate(turns) if i % 2 == 1]
        self.examples += 1
        self.by_split[split] += 1
        self.by_source[source] += 1
        self.by_domain[domain or "(none)"] += 1
        self.by_turns[len(turns)] += 1
        total = 0
        for part, texts in (("prompt", prompt), ("response", response)):
            chars = sum(len(text) for text in texts)
            tokens = sum(self.count_tokens(text) for text in texts)
            self.chars[part] += chars
            self.max_chars[part] = max(self.max_chars[part], chars)
            self.tokens[part] += tokens
            self.source_tokens[source][part] += tokens
            total += tokens
        self.tokens_by_split[split] += total
        self.length_buckets[_bucket(total)] += 1

    def build(self, overlong=None):
        """The manifest; `overlong` (an OverlongCounter's build) adds what the engine would trim and cut, per source."""
        n = self.examples or 1

        def ranked(counter):
            return dict(sorted(counter.items(), key=lambda kv: (-kv[1], str(kv[0]))))

        return {
            "examples": self.examples,
            "by_split": {split: self.by_split[split] for split in SPLITS if self.by_split[split]},
            "by_source": ranked(self.by_source),
            "by_domain": ranked(self.by_domain),
            "by_turns": {str(k): self.by_turns[k] for k in sorted(self.by_turns)},
            "chars": {
                part: {"total": self.chars[part], "mean": round(self.chars[part] / n, 1), "max": self.max_chars[part]}
                for part in ("prompt", "response")
            },
            "tokens": {
                "method": self.token_method,
                "total": self.tokens["prompt"] + self.tokens["response"],
                "prompt": {"total": self.tokens["prompt"], "mean": round(self.tokens["prompt"] / n, 1)},
                "response": {"total": self.tokens["response"], "mean": round(self.tokens["response"] / n, 1)},
                "by_split": {split: self.tokens_by_split[split] for split in SPLITS if self.by_split[split]},
            },
            # LIMA's Table 1: examples, mean prompt and response length per source.
            "sources": [
                {
                    "source": source,
                    "examples": count,
                    "avg_prompt_tokens": round(self.source_tokens[source]["prompt"] / count, 1),
                    "avg_response_tokens": round(self.source_tokens[source]["response"] / count, 1),
                    **({"trimmed": overlong["trimmed_by_source"].get(source, 0),
                        "cut": overlong["cut_by_source"].get(source, 0)} if overlong else {}),
                }
                for source, count in ranked(self.by_source).items()
            ],
            "length_histogram": [
                {"up_to_tokens": bound, "examples": self.length_buckets[bound]} for bound in sorted(self.length_buckets)
            ],
            **({"overlong": overlong} if overlong else {}),
        }


# --- Diff -----------------------------------------------------------------------------------------------

@dataclass
class Diff:
    added: list = field(default_factory=list)  # example ids in new only
    removed: list = field(default_factory=list)  # example ids in old only
    changed: list = field(default_factory=list)  # (example id, old revision, new revision, ["turns", "split"])
    unchanged: int = 0


def diff_indexes(old, new):
    """Two {example id: (revision number, content hash, split)} maps -> Diff. Same content under another
    revision number (e.g. a status change) is unchanged: only turns and split matter."""
    diff = Diff(
        added=sorted(set(new) - set(old)),
        removed=sorted(set(old) - set(new)),
    )
    for pk in sorted(set(old) & set(new)):
        (old_number, old_hash, old_split), (new_number, new_hash, new_split) = old[pk], new[pk]
        what = [name for name, differs in (("turns", old_hash != new_hash), ("split", old_split != new_split)) if differs]
        if what:
            diff.changed.append((pk, old_number, new_number, what))
        else:
            diff.unchanged += 1
    return diff


# --- The database edge ------------------------------------------------------------------------------------

def select_examples(selection):
    examples = Example.objects.all()
    if selection.status:
        examples = examples.filter(status=selection.status)
    if selection.sources:
        ids = [int(s) for s in selection.sources if s.isdigit()]
        kinds = [s for s in selection.sources if not s.isdigit()]
        examples = examples.filter(source__in=Source.objects.filter(pk__in=ids) | Source.objects.filter(kind__in=kinds))
    if selection.domains:
        examples = examples.filter(domain__in=selection.domains)
    if selection.splits:
        examples = examples.filter(split__in=selection.splits)
    if selection.tags:
        if connection.vendor == "postgresql":
            from django.db.models import Q

            any_tag = Q()
            for tag in selection.tags:
                any_tag |= Q(tags__contains=[tag])
            examples = examples.filter(any_tag)
        else:
            # JSON containment is PostgreSQL's; elsewhere read the tag lists once.
            wanted = set(selection.tags)
            ids = [pk for pk, tags in examples.values_list("pk", "tags").iterator(chunk_size=5000)
                   if wanted.intersection(tags or [])]
            examples = Example.objects.filter(pk__in=ids)
    return examples


def pinned_revisions(selection):
    """The current revision of every selected example: the content a version freezes.
    (A revision's number equals its example's version: services.edit_example keeps them in step.)"""
    return Revision.objects.filter(example__in=select_examples(selection), number=F("example__version"))


def find_train_duplicates(pinned):
    """[[example id, ...], ...]: train examples with exactly the same turns, by their content hash."""
    train = pinned.filter(split=Example.Split.TRAIN)
    hashes = list(
        train.values("content_hash").annotate(n=Count("id")).filter(n__gt=1).values_list("content_hash", flat=True)
    )
    groups = defaultdict(list)
    for content_hash, example_id in (
        train.filter(content_hash__in=hashes).order_by("example_id").values_list("content_hash", "example_id")
    ):
        groups[content_hash].append(example_id)
    return sorted(groups.values())


def find_near_duplicates(pinned):
    """Near-duplicate pairs (curation.dedupe.index.near_pairs) of the selection inside train, and between train
    and dev/test, as dicts: a, a_split, b, b_split, kind ("prompt" or "response"), similarity, resolve (the
    page that keeps one)."""
    from curation.dedupe.index import near_pairs

    splits = dict(pinned.filter(split__in=(Example.Split.TRAIN, *EVAL_SPLITS)).values_list("example_id", "split"))
    found = []
    for pair in near_pairs(splits):
        a_split, b_split = splits[pair.a], splits[pair.b]
        if Example.Split.TRAIN not in (a_split, b_split):
            continue  # dev and test may share a prompt: nothing is trained on them
        found.append({
            "a": pair.a, "a_split": a_split, "b": pair.b, "b_split": b_split, "kind": pair.kind,
            "similarity": round(pair.similarity, 3), "resolve": f"/duplicates/group/?ids={pair.a},{pair.b}",
        })
    return sorted(found, key=lambda p: (p["a"], p["b"], p["kind"]))


def _eval_prompts(pinned):
    rows = pinned.filter(split__in=EVAL_SPLITS).values_list("example_id", "split", "turns")
    return [(example_id, split, turns[0]) for example_id, split, turns in rows.iterator(chunk_size=2000) if turns]


def _excerpt(text):
    text = " ".join(text.split())
    return text if len(text) <= PROMPT_EXCERPT else text[: PROMPT_EXCERPT - 1] + "…"


def describe_overlaps(overlaps, limit=SHOWN_PAIRS):
    """Overlaps as JSON-ready dicts with both prompts, for pages, the API and the manifest."""
    shown = overlaps[:limit]
    ids = {o.eval_key for o in shown} | {o.train_key for o in shown}
    prompts = {
        pk: turns[0] if turns else ""
        for pk, turns in Revision.objects.filter(example__in=ids, number=F("example__version"))
        .values_list("example_id", "turns")
    }
    return [
        {
            "kind": o.kind,
            "eval_example": o.eval_key,
            "eval_split": o.eval_split,
            "eval_prompt": _excerpt(prompts.get(o.eval_key, "")),
            "train_example": o.train_key,
            "train_prompt": _excerpt(prompts.get(o.train_key, "")),
            "shared_ngrams": o.shared_ngrams,
            "prompt_ngrams": o.prompt_ngrams,
            "ratio": round(o.ratio, 3),
            "snippet": o.snippet,
        }
        for o in shown
    ]


@dataclass
class CheckReport:
    examples: int
    by_split: dict
    duplicates: list  # [[example id, ...], ...]
    overlaps: list  # contamination.Overlap
    near_duplicates: list = field(default_factory=list)  # find_near_duplicates' dicts

    @property
    def can_freeze(self):
        return self.examples > 0 and not self.duplicates and not self.near_duplicates

    def as_dict(self):
        return {
            "examples": self.examples,
            "by_split": self.by_split,
            "can_freeze": self.can_freeze,
            "duplicates": self.duplicates,
            "near_duplicates": self.near_duplicates,
            "contamination": describe_overlaps(self.overlaps),
            "contamination_count": len(self.overlaps),
        }


def check_selection(selection):
    """What freezing `selection` would meet, without writing anything."""
    pinned = pinned_revisions(selection)
    by_split = dict(pinned.order_by().values_list("split").annotate(n=Count("id")))
    finder = OverlapFinder(_eval_prompts(pinned))
    if finder.active:
        for example_id, turns in pinned.filter(split=Example.Split.TRAIN).values_list("example_id", "turns").iterator(
            chunk_size=2000
        ):
            finder.scan(example_id, turns)
    return CheckReport(
        examples=sum(by_split.values()),
        by_split={split: by_split[split] for split in SPLITS if split in by_split},
        duplicates=find_train_duplicates(pinned),
        overlaps=finder.overlaps(),
        near_duplicates=find_near_duplicates(pinned),
    )


@dataclass
class Frozen:
    version: DatasetVersion
    overlaps: list  # contamination.Overlap, also summarised in version.manifest["contamination"]


def freeze_version(name, *, selection=None, author=None, description="", on_progress=None, on_frozen=None):
    """Freeze the current revisions of `selection` as a new ready version, in one transaction.

    Refuses an empty selection, exact duplicates in train (DuplicateTrainExamples) and near-duplicates in train or
    between train and dev/test (NearDuplicateExamples); dev/test prompts
    found in train come back as warnings, and stay recorded in the manifest. on_progress(examples done, of
    examples) is called every few thousand examples (it may raise to abandon the freeze: nothing is kept);
    on_frozen(version) inside the transaction, once the version is ready (a freeze job records its success
    there, so that the version exists exactly when the job says so).
    """
    selection = selection or Selection()
    name = (name or "").strip()
    if not name:
        raise FreezeError("A version needs a name.", field="name")
    count_tokens, token_method = token_counter()
    overlong = overlong_counter()
    with transaction.atomic():
        pinned = pinned_revisions(selection)
        duplicates = find_train_duplicates(pinned)
        if duplicates:
            raise DuplicateTrainExamples(duplicates)
        near = find_near_duplicates(pinned)
        if near:
            raise NearDuplicateExamples(near)
        finder = OverlapFinder(_eval_prompts(pinned))
        version = DatasetVersion.objects.create(
            name=name, description=description, status=DatasetVersion.Status.FREEZING,
            selection=selection.to_dict(), created_by=author,
        )
        total = _insert_items(version, pinned)
        if not total:
            raise FreezeError("The selection holds no examples: nothing to freeze.")
        manifest = ManifestBuilder(count_tokens, token_method)
        digests = []
        rows = version.items.order_by("example_id").values_list(
            "example_id", "split", "revision__turns", "example__domain", "example__metadata", "example__source__kind"
        )
        for done, (example_id, split, turns, domain, metadata, kind) in enumerate(rows.iterator(chunk_size=2000)):
            if on_progress is not None and done % 2000 == 0:
                on_progress(done, total)
            source = source_label(kind, metadata)
            digests.append(row_digest(split, source, turns))
            manifest.add(split=split, source=source, domain=domain, turns=turns)
            if split == Example.Split.TRAIN and overlong is not None:
                overlong.add(source, turns)
            if split == Example.Split.TRAIN and finder.active:
                finder.scan(example_id, turns)
        overlaps = finder.overlaps()
        version.manifest = {
            **manifest.build(overlong.build() if overlong is not None else None),
            "contamination": {"count": len(overlaps), "pairs": describe_overlaps(overlaps)},
        }
        version.content_hash = combined_hash(digests)
        version.example_count = len(digests)
        version.status = DatasetVersion.Status.READY
        version.save(update_fields=["manifest", "content_hash", "example_count", "status"])
        if on_frozen is not None:
            on_frozen(version)
    return Frozen(version=version, overlaps=overlaps)


def _insert_items(version, pinned):
    """Pin the revisions with one INSERT ... SELECT: the database copies the ids, no round trip per row.
    Returns the number of items."""
    rows = pinned.order_by("example_id").annotate(version_ref=Value(version.pk, output_field=IntegerField()))
    try:
        select, params = rows.values_list("version_ref", "example_id", "pk", "split").query.sql_with_params()
    except EmptyResultSet:  # Django knows without asking the database, e.g. a filter on an empty id list
        return 0
    fields = [DatasetItem._meta.get_field(name) for name in ("version", "example", "revision", "split")]
    quote = connection.ops.quote_name
    columns = ", ".join(quote(field.column) for field in fields)
    with connection.cursor() as cursor:
        cursor.execute(f"INSERT INTO {quote(DatasetItem._meta.db_table)} ({columns}) {select}", params)
    return version.items.count()


def version_hash(version):
    """Recompute a version's hash from its items (it must equal the stored one)."""
    from curation.datasets.exports import iter_export_items

    return content_hash_of((item.split, item.source, item.turns) for item in iter_export_items(version))


def version_index(version):
    return {
        example_id: (number, content_hash, split)
        for example_id, number, content_hash, split in version.items.values_list(
            "example_id", "revision__number", "revision__content_hash", "split"
        ).iterator(chunk_size=5000)
    }


def diff_versions(old, new):
    return diff_indexes(version_index(old), version_index(new))
