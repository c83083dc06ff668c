"""Full-text search over the examples' prompts and responses, and the index it reads.

One query language and one function, `search_examples(queryset, text, within)`, whatever the database:

    knit scarf          both words, in any turn (words are stemmed: "knitting" finds "knit")
    "by the sea"        the words next to each other, in this order
    wool OR cotton      either
    -crochet            not this word (or -"a phrase")
    knit*               a word starting with "knit"

`within` narrows it to the prompts (the user's turns) or the responses (the assistant's).

The index, one entry an example, is written by the services with every change of an example's turns
(`index_examples`, called from curation.services), in the same transaction, so it always holds the current
revision's text:

- PostgreSQL: a `document` tsvector column of ExampleSummary (prompts weighted A, responses B), GIN-indexed, with
  two more GIN indexes on its prompt and response lexemes (`ts_filter`); a search is one
  `document @@ to_tsquery('lima_english', …)` that an index answers. `lima_english` is
  PostgreSQL's English stemming without its stop-word list (migration 0008), so that "by the sea" means what it
  does on SQLite.
- SQLite (the embedded default): the FTS5 table `curation_examplesearch` (prompt, response; rowid = example id),
  Porter stemming over unicode61.

Both stem English and keep every word; accents count on both ("café" is not "cafe").
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass

from django.db import connections, router
from django.db.models.expressions import RawSQL

from curation.workspace.lint import estimate_tokens

SEARCH_CONFIG = "lima_english"  # PostgreSQL's text search configuration (migration 0008); another needs a reindex
FTS_TABLE = "curation_examplesearch"
SUMMARY_TABLE = "curation_examplesummary"
WITHIN = ("all", "prompt", "response")
MAX_TERMS = 32  # a query of more terms is cut there: nobody types more, and it bounds the work
# Characters of the prompts, and of the responses, that are indexed: LIMA's longest answers are ~18k; a tsvector
# holds at most 1 MB, and a pasted log of megabytes must not fail an import.
MAX_INDEXED_CHARS = 100_000

# --- The query language -----------------------------------------------------------------------------------

# Words are runs of letters and digits, as both databases' tokenizers see them (an underscore or an apostrophe
# separates words: "don't" is "don" and "t" everywhere).
_WORD = re.compile(r"[^\W_]+")
_TOKEN = re.compile(r'(-?)"([^"]*)"?(\*?)|(\S+)')


@dataclass(frozen=True)
class Term:
    text: str  # as typed (a word, a phrase's inside, "e-mail"): PostgreSQL's parser reads it as it read the text
    words: tuple[str, ...]  # its words, as FTS5's tokenizer sees them
    phrase: bool = False  # typed in quotes: the words next to each other, in order
    prefix: bool = False  # the last word is a prefix


@dataclass(frozen=True)
class ParsedQuery:
    groups: tuple[tuple[Term, ...], ...]  # all groups must match; any term of a group does
    excluded: tuple[Term, ...]  # none of these may match

    def __bool__(self):
        return bool(self.groups or self.excluded)


def parse_query(text: str) -> ParsedQuery:
    """The structure of a query typed by a person; anything it cannot read is taken as words."""
    groups: list[list[Term]] = []
    excluded: list[Term] = []
    join_next = False  # the previous token was OR
    for match in _TOKEN.finditer(text or ""):
        if len(groups) + len(excluded) >= MAX_TERMS:
            break
        negated, phrase, star, bare = match.groups()
        if bare == "OR":
            join_next = bool(groups)
            continue
        if bare is not None:
            negated = "-" if bare.startswith("-") and len(bare) > 1 else ""
            star = "*" if bare.endswith("*") else ""
            typed = bare[len(negated):len(bare) - len(star)]
        else:
            typed = phrase
        words = tuple(_WORD.findall(typed))
        if not words:
            continue
        term = Term(typed.strip(), words, phrase=bare is None, prefix=bool(star))
        if negated:
            excluded.append(term)
            join_next = False
        elif join_next and groups:
            groups[-1].append(term)
            join_next = False
        else:
            groups.append([term])
    return ParsedQuery(tuple(tuple(group) for group in groups), tuple(excluded))


# --- PostgreSQL: a tsquery for to_tsquery ---------------------------------------------------------------

def _ts_term(term: Term) -> str:
    # Quoted, the text goes through the configuration's parser and stemmer as the document did (several lexemes
    # become a phrase); inside quotes only a quote and a backslash are special, and both are escaped.
    quoted = "'" + term.text.replace("\\", "\\\\").replace("'", "''") + "'"
    return quoted + ":*" if term.prefix else quoted


def postgres_tsquery(query: ParsedQuery) -> str:
    """The argument of to_tsquery(SEARCH_CONFIG, …): each term quoted, prefixes :*."""
    parts = ["(" + " | ".join(_ts_term(term) for term in group) + ")" for group in query.groups]
    parts += ["!" + _ts_term(term) for term in query.excluded]
    return " & ".join(parts)


# What is searched, per `within`: the whole document, or the lexemes of one weight — an expression with a GIN index
# of its own (a weight in the query instead would make PostgreSQL re-read every candidate's document).
POSTGRES_DOCUMENT = {"all": "document", "prompt": "ts_filter(document, '{a}')", "response": "ts_filter(document, '{b}')"}


# --- SQLite: an FTS5 MATCH expression ---------------------------------------------------------------------

def _fts_term(term: Term) -> str:
    if term.phrase or len(term.words) == 1:
        return '"' + " ".join(term.words) + '"' + ("*" if term.prefix else "")
    # "e-mail", "a/b" typed as one word: each of its words, as FTS5 indexed them.
    last = len(term.words) - 1
    return "(" + " AND ".join('"' + word + '"' + ("*" if term.prefix and i == last else "")
                             for i, word in enumerate(term.words)) + ")"


def fts5_match(terms_or_groups, within: str = "all") -> str:
    """An FTS5 expression ANDing groups of ORed terms; every word is quoted, so FTS5's own operators typed by
    a person are words."""
    expression = " AND ".join("(" + " OR ".join(_fts_term(term) for term in group) + ")" for group in terms_or_groups)
    if within in ("prompt", "response"):
        expression = "{" + within + "} : (" + expression + ")"
    return expression


# --- The one search function ------------------------------------------------------------------------------

# PostgreSQL: a query the planner expects in more than this share of the examples is left to it (it reads the
# newest examples' documents until a page is full: a few dozen); a rarer one is answered from the GIN index.
COMMON_SHARE = 0.05


def search_examples(queryset, text: str, within: str = "all", plan: str = "auto"):
    """`queryset` (of Examples) narrowed to those whose current text matches `text`; unchanged for an empty
    query. The same language and the same answers on PostgreSQL and SQLite.

    `plan` (PostgreSQL): "index" has the GIN index find every match (what a count wants); "auto" does that for a
    query its statistics expect in fewer than COMMON_SHARE of the examples, and otherwise lets the planner walk
    the examples in the page's order, which stops at the first page's worth ("the" matches everything)."""
    query = parse_query(text)
    if not query:
        return queryset
    within = within if within in WITHIN else "all"
    connection = connections[queryset.db]
    vendor = connection.vendor
    if vendor == "postgresql":
        condition = f"{POSTGRES_DOCUMENT[within]} @@ to_tsquery('{SEARCH_CONFIG}', %s)"
        params = [postgres_tsquery(query)]
        # OFFSET 0 keeps the subquery whole, so that the GIN index answers it: left to itself the planner may walk
        # the examples newest first and read each one's document, which costs seconds when few of them match.
        fence = " OFFSET 0" if plan == "index" or _expected_share(connection, condition, params) < COMMON_SHARE else ""
        return queryset.filter(pk__in=RawSQL(f"SELECT example_id FROM {SUMMARY_TABLE} WHERE {condition}{fence}", params))
    if vendor == "sqlite":
        if query.groups:
            queryset = queryset.filter(pk__in=RawSQL(
                f"SELECT rowid FROM {FTS_TABLE} WHERE {FTS_TABLE} MATCH %s", [fts5_match(query.groups, within)]
            ))
        if query.excluded:
            # FTS5's NOT needs something on its left; an exclusion is the complement of its own match.
            queryset = queryset.exclude(pk__in=RawSQL(
                f"SELECT rowid FROM {FTS_TABLE} WHERE {FTS_TABLE} MATCH %s",
                [fts5_match([query.excluded], within)],
            ))
        return queryset
    raise NotImplementedError(f"full-text search has no backend for {vendor}")


def _expected_share(connection, condition, params):
    """The planner's estimate of the share of the examples matching `condition` (from the tsvector statistics
    ANALYZE keeps: how often each word occurs)."""
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (FORMAT JSON) SELECT 1 FROM {SUMMARY_TABLE} WHERE {condition}", params)
        plan = cursor.fetchone()[0]
        plan = json.loads(plan) if isinstance(plan, str) else plan
        cursor.execute("SELECT reltuples FROM pg_class WHERE relname = %s", [SUMMARY_TABLE])
        total = cursor.fetchone()[0]
    return plan[0]["Plan"]["Plan Rows"] / total if total and total > 0 else 0.0


# --- The index ------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Summary:
    first_line: str
    prompt_chars: int
    prompt_tokens: int
    response_chars: int
    response_tokens: int
    turn_count: int
    prompt: str  # the user's turns, as indexed
    response: str  # the assistant's turns


def summarize(texts) -> Summary:
    """Lengths as the write page's check counts them (curation.workspace.lint: stripped characters, about four a
    token), turn by turn, prompts being the user's turns and responses the assistant's."""
    texts = list(texts)
    users, assistants = texts[0::2], texts[1::2]
    first = texts[0] if texts else ""
    first_line = next((line.strip() for line in first.splitlines() if line.strip()), "")
    return Summary(
        first_line=first_line[:199] + "…" if len(first_line) > 200 else first_line,
        prompt_chars=sum(len(text.strip()) for text in users),
        prompt_tokens=sum(estimate_tokens(text) for text in users),
        response_chars=sum(len(text.strip()) for text in assistants),
        response_tokens=sum(estimate_tokens(text) for text in assistants),
        turn_count=len(texts),
        prompt="\n\n".join(users)[:MAX_INDEXED_CHARS],
        response="\n\n".join(assistants)[:MAX_INDEXED_CHARS],
    )


_FACTS = ("content_hash", "first_line", "prompt_chars", "prompt_tokens", "response_chars", "response_tokens",
          "turn_count")


def index_examples(rows, using=None):
    """Write the summary and the search entry of each (example id, content hash, texts): an upsert, so the same
    call serves a new example and a changed one. The services call it wherever turns are written."""
    rows = [(pk, digest, summarize(texts)) for pk, digest, texts in rows]
    if not rows:
        return
    from curation.workspace.models import ExampleSummary

    connection = connections[using or router.db_for_write(ExampleSummary)]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            _write_postgres(cursor, rows)
        else:
            _write_sqlite(cursor, rows)


def _write_postgres(cursor, rows):
    columns = ", ".join(_FACTS)
    updates = ", ".join(f"{name} = EXCLUDED.{name}" for name in (*_FACTS, "document"))
    cursor.execute(
        f"""INSERT INTO {SUMMARY_TABLE} (example_id, {columns}, document)
        SELECT id, {columns},
               setweight(to_tsvector('{SEARCH_CONFIG}', prompt), 'A') || setweight(to_tsvector('{SEARCH_CONFIG}', response), 'B')
        FROM unnest(%s::bigint[], %s::text[], %s::text[], %s::int[], %s::int[], %s::int[], %s::int[], %s::int[],
                    %s::text[], %s::text[])
             AS v(id, {columns}, prompt, response)
        ON CONFLICT (example_id) DO UPDATE SET {updates}""",
        [
            [pk for pk, _, _ in rows], [digest for _, digest, _ in rows],
            *([getattr(summary, name) for _, _, summary in rows] for name in _FACTS[1:]),
            [summary.prompt for _, _, summary in rows], [summary.response for _, _, summary in rows],
        ],
    )


def _write_sqlite(cursor, rows):
    columns = ", ".join(_FACTS)
    updates = ", ".join(f"{name} = excluded.{name}" for name in _FACTS)
    cursor.executemany(
        f"INSERT INTO {SUMMARY_TABLE} (example_id, {columns}) VALUES (%s{', %s' * len(_FACTS)}) "
        f"ON CONFLICT (example_id) DO UPDATE SET {updates}",
        [(pk, digest, *(getattr(summary, name) for name in _FACTS[1:])) for pk, digest, summary in rows],
    )
    cursor.executemany(f"DELETE FROM {FTS_TABLE} WHERE rowid = %s", [(pk,) for pk, _, _ in rows])
    cursor.executemany(
        f"INSERT INTO {FTS_TABLE} (rowid, prompt, response) VALUES (%s, %s, %s)",
        [(pk, summary.prompt, summary.response) for pk, _, summary in rows],
    )


# --- Schema (migration 0008 and `reindex_examples`) --------------------------------------------------------

# On both databases: the table's "Changed" column sorts through this (value, id) index. (Not in Example's Meta:
# the model belongs to curation/models.py, the index to the table.)
BOTH_SCHEMA = ["CREATE INDEX IF NOT EXISTS example_updated_idx ON curation_example (updated_at, id)"]
POSTGRES_SCHEMA = [
    # English stemming without a stop-word list (the snowball dictionary given none), as FTS5 does it.
    f"""DO $$ BEGIN
        IF NOT EXISTS (SELECT 1 FROM pg_ts_dict WHERE dictname = '{SEARCH_CONFIG}_stem') THEN
            CREATE TEXT SEARCH DICTIONARY {SEARCH_CONFIG}_stem (TEMPLATE = snowball, LANGUAGE = english);
        END IF;
        IF NOT EXISTS (SELECT 1 FROM pg_ts_config WHERE cfgname = '{SEARCH_CONFIG}') THEN
            CREATE TEXT SEARCH CONFIGURATION {SEARCH_CONFIG} (COPY = pg_catalog.english);
            ALTER TEXT SEARCH CONFIGURATION {SEARCH_CONFIG}
                ALTER MAPPING FOR asciiword, asciihword, hword_asciipart, word, hword, hword_part
                WITH {SEARCH_CONFIG}_stem;
        END IF;
    END $$""",
    f"ALTER TABLE {SUMMARY_TABLE} ADD COLUMN IF NOT EXISTS document tsvector",
    f"CREATE INDEX IF NOT EXISTS summary_document_gin ON {SUMMARY_TABLE} USING gin (document)",
    f"CREATE INDEX IF NOT EXISTS summary_prompt_gin ON {SUMMARY_TABLE} USING gin ((ts_filter(document, '{{a}}')))",
    f"CREATE INDEX IF NOT EXISTS summary_response_gin ON {SUMMARY_TABLE} USING gin ((ts_filter(document, '{{b}}')))",
    # The tag filter and "send to review" ask `tags @> '["x"]'`: answered by this index rather than a scan.
    "CREATE INDEX IF NOT EXISTS example_tags_gin ON curation_example USING gin (tags jsonb_path_ops)",
    *BOTH_SCHEMA,
]
POSTGRES_SCHEMA_REVERSE = [
    "DROP INDEX IF EXISTS example_updated_idx",
    "DROP INDEX IF EXISTS summary_response_gin",
    "DROP INDEX IF EXISTS summary_prompt_gin",
    "DROP INDEX IF EXISTS example_tags_gin",
    "DROP INDEX IF EXISTS summary_document_gin",
    f"ALTER TABLE {SUMMARY_TABLE} DROP COLUMN IF EXISTS document",
    f"DROP TEXT SEARCH CONFIGURATION IF EXISTS {SEARCH_CONFIG}",
    f"DROP TEXT SEARCH DICTIONARY IF EXISTS {SEARCH_CONFIG}_stem",
]
SQLITE_SCHEMA = [
    f"CREATE VIRTUAL TABLE IF NOT EXISTS {FTS_TABLE} USING fts5(prompt, response, "
    "tokenize = 'porter unicode61 remove_diacritics 0')",
    # Deleting an example deletes its summary (Django's cascade): its search entry goes with it. SQLite drops a
    # table's triggers when a migration rebuilds the table: `reindex_examples` creates it again.
    f"CREATE TRIGGER IF NOT EXISTS examplesummary_unindex AFTER DELETE ON {SUMMARY_TABLE} "
    f"BEGIN DELETE FROM {FTS_TABLE} WHERE rowid = old.example_id; END",
    *BOTH_SCHEMA,
]
SQLITE_SCHEMA_REVERSE = ["DROP INDEX IF EXISTS example_updated_idx", "DROP TRIGGER IF EXISTS examplesummary_unindex",
                         f"DROP TABLE IF EXISTS {FTS_TABLE}"]


def search_schema_present(connection):
    """Whether the index's column, configuration, table and trigger are all there."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT (SELECT count(*) FROM information_schema.columns WHERE table_name = %s AND column_name = "
                "'document') + (SELECT count(*) FROM pg_ts_config WHERE cfgname = %s) + (SELECT count(*) FROM "
                "pg_indexes WHERE indexname IN ('summary_document_gin', 'summary_prompt_gin', 'summary_response_gin', "
                "'example_tags_gin', 'example_updated_idx'))",
                [SUMMARY_TABLE, SEARCH_CONFIG],
            )
            return cursor.fetchone()[0] == 7
        cursor.execute("SELECT count(*) FROM sqlite_master WHERE name IN (%s, 'examplesummary_unindex', "
                       "'example_updated_idx')", [FTS_TABLE])
        return cursor.fetchone()[0] == 3


def ensure_search_schema(connection, reverse=False):
    """Create (or drop) the search index's tables, columns and triggers of `connection`'s database; nothing when
    they are there (no DDL, so it may run inside a transaction that wrote rows)."""
    if not reverse and search_schema_present(connection):
        return
    if connection.vendor == "postgresql":
        statements = POSTGRES_SCHEMA_REVERSE if reverse else POSTGRES_SCHEMA
    elif connection.vendor == "sqlite":
        statements = SQLITE_SCHEMA_REVERSE if reverse else SQLITE_SCHEMA
    else:
        raise NotImplementedError(f"full-text search has no backend for {connection.vendor}")
    with connection.cursor() as cursor:
        for statement in statements:
            cursor.execute(statement)


def iter_current_texts(turn_rows):
    """(example id, [texts]) from turn rows (example id, text) ordered by example and position."""
    current, texts = None, []
    for example_id, text in turn_rows:
        if example_id != current:
            if current is not None:
                yield current, texts
            current, texts = example_id, []
        texts.append(text)
    if current is not None:
        yield current, texts


def rebuild_index(example_model, turn_model, using="default", batch=1000, only_stale=False, progress=None):
    """Write the summary and search entry of every example (or, with `only_stale`, of those missing or out of
    step) from its turns; returns how many were written. Takes the models, so migrations pass theirs."""
    examples = example_model.objects.using(using).order_by("pk")
    if only_stale:
        from django.db.models import F, Q

        examples = examples.filter(Q(summary__isnull=True) | ~Q(summary__content_hash=F("content_hash")))
    written, last = 0, 0
    while True:
        chunk = dict(examples.filter(pk__gt=last).values_list("pk", "content_hash")[:batch])
        if not chunk:
            return written
        turns = (turn_model.objects.using(using).filter(example_id__in=list(chunk))
                 .order_by("example_id", "position").values_list("example_id", "text"))
        rows = [(pk, chunk[pk], texts) for pk, texts in iter_current_texts(turns.iterator(chunk_size=5000))]
        index_examples(rows, using=using)
        written += len(rows)
        last = max(chunk)
        if progress is not None:
            progress(written)
