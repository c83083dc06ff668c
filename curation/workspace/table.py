"""The examples table's query: filters, sorting, keyset pages and a count that stays cheap.

Shared by the page (/examples/), the API's list (/api/examples/) and "all matching" bulk actions, so a filter
means the same everywhere. Nothing here renders anything.

Pages are keyset pages: a cursor holds the (sort value, id) of the row at a page's edge, and the next page is
the rows after it in (sort value, id) order — no OFFSET, so page 2,000 costs what page 1 does, and rows added
meanwhile never repeat or push a row off a page. Lengths are sorted through ExampleSummary's (value, example)
indexes; added columns (curation.workspace.registry) sort by their annotation, NULLs last.
"""
from __future__ import annotations

import base64
import binascii
import json
import time
from dataclasses import dataclass, field, fields
from datetime import datetime
from urllib.parse import urlencode

from django.conf import settings
from django.db import OperationalError, connections, transaction
from django.db.models import Case, Exists, F, FloatField, OuterRef, Q, Value, When
from django.db.models.expressions import RawSQL

from core.params import is_id
from curation.datasets.versions import MAX_ID
from curation.models import Example, Review, Revision
from curation.workspace import registry
from curation.workspace.search import WITHIN, search_examples

FLAGS = {
    "multi_turn": "Multi-turn",
    "prompt_only": "Prompt only",
    "edited": "Text edited since created",
}
REVIEWED = {"yes": "Reviewed", "no": "Never reviewed"}
WITHIN_LABELS = {"all": "Prompts and responses", "prompt": "Prompts only", "response": "Responses only"}
PAGE_SIZES = (25, 50, 100, 200)


class FilterError(ValueError):
    """A filter value the API refuses (the page drops such values instead); `errors` maps a name to why."""

    def __init__(self, errors):
        self.errors = errors
        super().__init__("; ".join(f"{name}: {message}" for name, message in errors.items()))


def with_tag(examples, tag):
    """Examples carrying `tag` (tags are a JSON list: containment on PostgreSQL, json_each on SQLite)."""
    if connections[examples.db].vendor == "postgresql":
        return examples.filter(tags__contains=[tag])
    return examples.filter(pk__in=RawSQL(
        "SELECT curation_example.id FROM curation_example, json_each(curation_example.tags) WHERE json_each.value = %s",
        [tag],
    ))


@dataclass(frozen=True)
class TableFilters:
    """The table's filters as they travel in a query string (and in a bulk job's selection). Empty means any."""

    q: str = ""  # full-text search (curation.workspace.search)
    semantic: str = ""  # search by meaning (curation.signals.search): the nearest examples, ranked by similarity
    within: str = "all"  # all | prompt | response
    source: str = ""  # a Source id, or a kind (stackexchange, wikihow, …)
    domain: str = ""
    status: str = ""
    split: str = ""
    tag: str = ""
    import_run: str = ""
    flag: str = ""  # one of FLAGS
    reviewed: str = ""  # yes | no
    extra: tuple = field(default=())  # ((key, value), …) of registered filters

    _CHOICES = {"status": Example.Status.values, "split": Example.Split.values, "flag": list(FLAGS),
                "reviewed": list(REVIEWED), "within": list(WITHIN)}

    @classmethod
    def from_query(cls, query, *, strict=False):
        """From a QueryDict or a dict. Unknown values are dropped, or, with `strict` (the API), refused with
        FilterError naming each."""
        def get(name):
            value = query.get(name, "")
            if isinstance(value, list):  # a plain dict holding a list (JSON bodies)
                value = value[0] if value else ""
            return str(value if value is not None else "").strip()

        errors = {}
        values = {}
        for spec in fields(cls):
            if spec.name == "extra":
                continue
            value = get(spec.name)[:500]
            choices = cls._CHOICES.get(spec.name)
            if value and choices is not None and value not in choices:
                errors[spec.name] = f"Unknown {spec.name} {value!r}: choose one of {', '.join(choices)}."
                value = spec.default
            if spec.name in ("source", "import_run") and value.isdigit() and not is_id(value):
                errors[spec.name] = f"No {spec.name.replace('_', ' ')} has the id {value}."
                value = ""
            if spec.name == "import_run" and value and not value.isdigit():  # (isdigit: "²" was refused above)
                errors[spec.name] = "An import run is given by its id."
                value = ""
            values[spec.name] = value or spec.default
        if not values["q"] and "search" in query:  # the API's historical name of the text search
            values["q"] = get("search")[:500]
        extra = []
        for entry in registry.filters():
            raw = get(entry.key)
            value = entry.clean(raw)
            if raw and not value:
                errors[entry.key] = f"Unknown {entry.key} {raw!r}: choose one of {', '.join(v for v, _ in entry.options())}."
            if value:
                extra.append((entry.key, value))
        if strict and errors:
            raise FilterError(errors)
        return cls(**values, extra=tuple(extra))

    @classmethod
    def from_dict(cls, data):
        return cls.from_query(dict(data or {}))

    def as_dict(self):
        """The filters that are set, {name: value}, registered ones included (what a bulk job stores)."""
        data = {spec.name: getattr(self, spec.name) for spec in fields(self)
                if spec.name != "extra" and getattr(self, spec.name) != spec.default}
        return {**data, **dict(self.extra)}

    def as_query(self, **overrides):
        return urlencode({**self.as_dict(), **overrides})

    def extra_value(self, key):
        return dict(self.extra).get(key, "")

    def __bool__(self):
        return bool(self.as_dict())

    def apply(self, examples, search_plan="auto"):
        """`examples` narrowed by every filter that is set (`search_plan`: see search.search_examples)."""
        if self.status:
            examples = examples.filter(status=self.status)
        if self.split:
            examples = examples.filter(split=self.split)
        if self.source:
            examples = (examples.filter(source_id=int(self.source)) if self.source.isdigit()
                        else examples.filter(source__kind=self.source))
        if self.domain:
            examples = examples.filter(domain=self.domain)
        if self.import_run:
            examples = examples.filter(import_run_id=int(self.import_run))
        if self.tag:
            examples = with_tag(examples, self.tag)
        if self.flag == "multi_turn":
            examples = examples.filter(summary__turn_count__gt=2)
        elif self.flag == "prompt_only":
            examples = examples.filter(summary__turn_count=1)
        elif self.flag == "edited":
            first = Revision.objects.filter(example=OuterRef("pk"), number=1)
            examples = examples.filter(Exists(first.exclude(content_hash=OuterRef("content_hash"))))
        if self.reviewed:
            reviewed = Exists(Review.objects.filter(example=OuterRef("pk")))
            examples = examples.filter(reviewed if self.reviewed == "yes" else ~reviewed)
        for key, value in self.extra:
            entry = registry.get_filter(key)
            if entry is not None:
                examples = entry.apply(examples, value)
        if self.q:
            examples = search_examples(examples, self.q, self.within, plan=search_plan)
        if self.semantic:
            examples = examples.filter(pk__in=list(semantic_ranking(self.semantic)))
        return examples


def filtered_examples(filters, search_plan="auto"):
    return filters.apply(Example.objects.all(), search_plan=search_plan)


# --- Sorting ----------------------------------------------------------------------------------------------

# key: (label, the expression sorted on). Lengths sort through ExampleSummary's (value, example) indexes.
SORTS = {
    "id": ("Id", "pk"),
    "updated": ("Last change", "updated_at"),
    "source": ("Source", "source__name"),
    "domain": ("Domain", "domain"),
    "status": ("Status", "status"),
    "split": ("Split", "split"),
    "prompt": ("Prompt length", "summary__prompt_chars"),
    "response": ("Response length", "summary__response_chars"),
    "turns": ("Turns", "summary__turn_count"),
    "similarity": ("Similarity", "_similarity"),  # with `semantic` only: how near the query's meaning
}
DEFAULT_SORT = "-id"  # newest first, as the API lists them


@dataclass(frozen=True)
class Sort:
    key: str = "id"
    descending: bool = True

    @classmethod
    def parse(cls, value, filters=None):
        """The sort of `value` ("-response"); a query by meaning (`filters.semantic`) ranks by similarity unless
        another sort is asked for, and similarity means nothing without one."""
        if not value and filters is not None and filters.semantic:
            value = "-similarity"
        value = (value or DEFAULT_SORT).strip()
        if value.lstrip("-") == "similarity" and (filters is None or not filters.semantic):
            value = DEFAULT_SORT
        descending = value.startswith("-")
        key = value.lstrip("-")
        if key in SORTS or ((column := registry.get_column(key)) is not None and column.sortable):
            return cls(key, descending)
        return cls.parse(DEFAULT_SORT)

    @property
    def param(self):
        return ("-" if self.descending else "") + self.key

    @property
    def column(self):
        return registry.get_column(self.key) if self.key not in SORTS else None

    @property
    def nullable(self):
        return self.column is not None  # an added column may have no value for some examples

    @property
    def path(self):
        return SORTS[self.key][1] if self.key in SORTS else self.key

    def link(self, key):
        """The ?sort= of a header: this column descending first, then the other way round."""
        if key == self.key:
            return ("" if self.descending else "-") + key
        return "-" + key


# --- Cursors ------------------------------------------------------------------------------------------------

def _encode_value(value):
    if isinstance(value, datetime):
        return {"dt": value.isoformat()}  # every microsecond: a cursor must land exactly between two rows
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)  # Decimal and friends: the field's lookup converts it back


def _decode_value(value):
    if isinstance(value, dict) and "dt" in value:
        return datetime.fromisoformat(value["dt"])
    return value


def encode_cursor(sort, example, direction):
    value = example.pk if sort.key == "id" else example._sort_value
    payload = {"s": sort.param, "v": _encode_value(value), "id": example.pk, "d": direction}
    return base64.urlsafe_b64encode(json.dumps(payload, separators=(",", ":")).encode()).decode().rstrip("=")


def decode_cursor(cursor, sort):
    """(value, id, direction) of a cursor made for this sort; None for anything else (the first page then)."""
    if not cursor:
        return None
    try:
        payload = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if payload["s"] != sort.param or payload["d"] not in ("next", "prev"):
            return None
        pk = int(payload["id"])
        if not 0 < pk <= MAX_ID:
            return None
        return _decode_value(payload["v"]), pk, payload["d"]
    except (ValueError, KeyError, TypeError, binascii.Error):
        return None


def _after(value, pk, descending, nulls_last, nullable):
    """The rows after (value, pk) in the order (value, pk) both descending or both ascending, NULLs of the value
    first or last. Without NULLs it reads `value <= v AND (value < v OR pk < id)`, whose first half an index on
    (value, id) answers as a range."""
    lt, lte = ("lt", "lte") if descending else ("gt", "gte")
    if value is None:
        tie = Q(_sort_value__isnull=True, **{f"pk__{lt}": pk})
        return tie if nulls_last else Q(_sort_value__isnull=False) | tie
    if not nullable:
        return Q(**{f"_sort_value__{lte}": value}) & (Q(**{f"_sort_value__{lt}": value}) | Q(**{f"pk__{lt}": pk}))
    after = Q(**{f"_sort_value__{lt}": value}) | Q(_sort_value=value, **{f"pk__{lt}": pk})
    return after | Q(_sort_value__isnull=True) if nulls_last else after


def _ordered(examples, sort, backwards):
    """`examples` in the sort's order (NULLs last), or in its reverse (to read the page before a cursor)."""
    descending = sort.descending != backwards
    if sort.key == "id":
        return examples.order_by("-pk" if descending else "pk")
    key = F("_sort_value")
    nulls = {"nulls_first": True} if backwards else {"nulls_last": True}
    if not sort.nullable:
        nulls = {}
    return examples.order_by(key.desc(**nulls) if descending else key.asc(**nulls), "-pk" if descending else "pk")


# --- Pages ----------------------------------------------------------------------------------------------

@dataclass
class Page:
    rows: list
    sort: Sort
    size: int
    next_cursor: str | None = None
    prev_cursor: str | None = None
    count: int | None = 0  # None: counting took longer than COUNT_BUDGET_MS
    count_is_capped: bool = False  # more than EXAMPLES_COUNT_LIMIT match: `count` is that limit

    @property
    def count_text(self):
        if self.count is None:
            return f"{len(self.rows):,}+"
        return f"{self.count:,}+" if self.count_is_capped else f"{self.count:,}"

    @property
    def more_than_shown(self):
        """More examples match than this page shows (so that "all matching" means something)."""
        return self.count is None or self.count_is_capped or self.count > len(self.rows)


# PostgreSQL: a count taking longer than this gives up (a phrase of common words at 100k examples re-reads
# thousands of documents); the page then says "50+" rather than wait. A page's rows and count share
# PAGE_BUDGET_MS: the count gets what the rows left, never less than COUNT_MIN_MS.
COUNT_BUDGET_MS = 150
PAGE_BUDGET_MS = 180
COUNT_MIN_MS = 25


def count_matching(examples, limit=None, budget_ms=COUNT_BUDGET_MS):
    """(count, capped): exact up to EXAMPLES_COUNT_LIMIT, beyond it the limit and True — a count that reads at
    most that many rows whatever the table holds; (None, False) when PostgreSQL could not count within
    `budget_ms`."""
    limit = settings.EXAMPLES_COUNT_LIMIT if limit is None else limit
    query = examples.order_by().values("pk")[: limit + 1]
    connection = connections[examples.db]
    if connection.vendor != "postgresql":
        found = query.count()
    else:
        try:
            with transaction.atomic(using=examples.db):  # a savepoint inside a request's transaction
                with connection.cursor() as cursor:
                    # The budget; and the search's matches read from the GIN index, never by reading every
                    # example's document (the planner underrates that: the documents are TOASTed).
                    cursor.execute("SELECT current_setting('statement_timeout'), current_setting('enable_seqscan'), "
                                   "set_config('statement_timeout', %s, true), set_config('enable_seqscan', 'off', true)",
                                   [str(int(budget_ms))])
                    before = cursor.fetchone()[:2]
                found = query.count()
                with connection.cursor() as cursor:
                    cursor.execute("SELECT set_config('statement_timeout', %s, true), "
                                   "set_config('enable_seqscan', %s, true)", list(before))
        except OperationalError as error:
            if "statement timeout" not in str(error):
                raise
            return None, False
    return (limit, True) if found > limit else (found, False)


def rows_queryset(examples):
    """What a page shows of each example: source, summary, and every added column's annotation."""
    rows = examples.select_related("source", "summary").defer("metadata")
    for column in registry.columns():
        rows = column.annotate(rows)
    return rows


def semantic_ranking(query) -> dict[int, float]:
    """{example id: similarity} of the SIGNALS_TABLE_LIMIT examples nearest `query`'s meaning."""
    from curation.signals.search import ranked

    return ranked(query, settings.SIGNALS_TABLE_LIMIT)


def _similarity(query):
    scores = semantic_ranking(query)
    if not scores:
        return Value(None, output_field=FloatField())
    return Case(*(When(pk=pk, then=Value(score)) for pk, score in scores.items()), default=Value(None),
                output_field=FloatField())


def _keyed(examples, sort, filters=None):
    """`examples` with only what sorting needs: the sort value as `_sort_value` (the page's rows are read after,
    for their ids only, so that a sort the database cannot take from an index sorts narrow rows)."""
    if sort.key == "id":
        return examples
    if sort.column is not None:
        examples = sort.column.annotate(examples)
    if sort.key == "similarity":
        examples = examples.annotate(_similarity=_similarity(filters.semantic if filters else ""))
    if sort.path.startswith("summary__"):
        # An inner join, so that the (value, example) index drives the page rather than a sort of everything.
        examples = examples.filter(summary__isnull=False)
    return examples.annotate(_sort_value=F(sort.path))


def table_page(filters, *, sort=None, cursor=None, size=None, count=True):
    """One page of the table: the rows after (or before) `cursor` in `sort` order, with the cursors of the pages
    on either side."""
    started = time.perf_counter()
    sort = sort or Sort.parse(DEFAULT_SORT)
    size = size if size in PAGE_SIZES else settings.EXAMPLES_PAGE_SIZE
    base = filtered_examples(filters)
    keyed = _keyed(base, sort, filters)
    position = decode_cursor(cursor, sort)
    backwards = position is not None and position[2] == "prev"
    if position is not None:
        value, pk, _ = position
        if sort.key == "id":
            descending = sort.descending != backwards
            keyed = keyed.filter(**{"pk__lt" if descending else "pk__gt": pk})
        else:
            keyed = keyed.filter(_after(value, pk, sort.descending != backwards, not backwards, sort.nullable))
    ordered = _ordered(keyed, sort, backwards)
    keys = list(ordered.values_list("pk", "_sort_value")[: size + 1] if sort.key != "id"
                else ((pk, pk) for pk in ordered.values_list("pk", flat=True)[: size + 1]))
    more = len(keys) > size
    keys = keys[:size]
    if backwards and not more:
        # Nothing before these: this is the first page, read as the first page (full, and with no "previous").
        return table_page(filters, sort=sort, size=size, count=count)
    if backwards:
        keys.reverse()
    shown = {example.pk: example for example in rows_queryset(Example.objects.filter(pk__in=[pk for pk, _ in keys]))}
    found = []
    for pk, value in keys:
        if pk in shown:  # (one deleted between the two reads is left out)
            shown[pk]._sort_value = value
            found.append(shown[pk])
    page = Page(rows=found, sort=sort, size=size)
    if found:
        if backwards or more:
            page.next_cursor = encode_cursor(sort, found[-1], "next")
        if position is not None:
            page.prev_cursor = encode_cursor(sort, found[0], "prev")
    if count:
        if position is None and not more:
            page.count = len(found)  # everything is on this page: nothing to count
        else:
            spent_ms = (time.perf_counter() - started) * 1000
            budget_ms = min(COUNT_BUDGET_MS, max(COUNT_MIN_MS, PAGE_BUDGET_MS - spent_ms))
            page.count, page.count_is_capped = count_matching(filtered_examples(filters, search_plan="index"),
                                                              budget_ms=budget_ms)
    return page
