"""Write a synthetic Stack Exchange Posts.xml for the ingest benchmark.

    python bench/ingest_data.py OUT.xml --mb 200 [--seed 0]
    python bench/ingest_data.py --measure ../shared/data/stackexchange   # print the tables below

Rows look like a real dump's: the same attributes in the same order, HTML bodies escaped in an
attribute (paragraphs, code with entities, lists, links, images, quotes), tag wikis, deleted
owners, answers arriving some rows after their question, ids in file order with gaps.
Scores, body lengths, answers per question and the shares of tag wikis, accepted answers and
deleted owners are drawn from the distributions measured on the real dumps in
../shared/data/stackexchange (``measure_distributions``; figures below), so most answers fail
LIMA's score rule as they do in real life.

Public functions:
- ``write_posts_xml(path, megabytes, seed=0) -> dict``: write the file, streamed to disk, and
  return {"bytes", "rows", "questions", "answers", "tag_wikis"}.
- ``measure_distributions(folder) -> dict``: the tables, measured from real Posts.xml files.
"""

from __future__ import annotations

import argparse
import bisect
import itertools
import json
import random
import sys
import time
from collections import Counter
from pathlib import Path

# Measured by measure_distributions() on coffee_2015, conlang_meta_2020 and french_meta_2021
# (1,550 rows: 553 questions, 929 answers, 68 tag-wiki rows).
DISTRIBUTIONS = {
    "question_score": {-3: 2, -2: 2, -1: 2, 0: 15, 1: 43, 2: 54, 3: 76, 4: 69, 5: 55, 6: 58, 7: 43,
                       8: 32, 9: 21, 10: 19, 11: 12, 12: 11, 13: 8, 14: 6, 15: 2, 16: 6, 17: 2,
                       18: 2, 19: 3, 20: 1, 22: 2, 23: 1, 24: 1, 26: 3, 30: 1, 37: 1},
    "answer_score": {-8: 1, -7: 1, -6: 1, -5: 2, -4: 3, -3: 7, -2: 9, -1: 15, 0: 45, 1: 103,
                     2: 153, 3: 123, 4: 118, 5: 88, 6: 62, 7: 42, 8: 35, 9: 23, 10: 26, 11: 17,
                     12: 16, 13: 7, 14: 4, 15: 6, 16: 7, 17: 3, 18: 1, 19: 2, 20: 1, 22: 2,
                     24: 2, 27: 1, 28: 1, 31: 1, 34: 1},
    "answers_per_question": {0: 51, 1: 274, 2: 134, 3: 49, 4: 22, 5: 12, 6: 4, 7: 2, 8: 2,
                             10: 1, 13: 1, 15: 1},
    # Body length in characters of HTML (after XML decoding) at these percentiles.
    "percentiles": [0, 5, 10, 20, 30, 40, 50, 60, 70, 80, 90, 95, 98, 100],
    "question_length": [94, 171, 222, 308, 389, 483, 614, 827, 1103, 1454, 2458, 3106, 4334, 8745],
    "answer_length": [38, 181, 265, 391, 554, 705, 842, 1054, 1318, 1738, 2674, 3713, 5219, 21859],
    "title_length": [15, 23, 28, 35, 40, 45, 49, 54, 59, 70, 85, 98, 118, 147],
    "tag_wiki_share": 0.0439,  # of all rows, PostTypeId 4 and 5 in pairs
    "accepted_share": 0.365,  # of questions with an AcceptedAnswerId
    "deleted_owner_share": 0.025,  # OwnerDisplayName="userN" and no OwnerUserId
}

WORDS = (
    "the of a to and in is that it for you can be with this on as are not or your if have an "
    "will but use which at by from one more when should there would so all some what they about "
    "water grind coffee beans temperature function value variable array server memory file "
    "language grammar question example answer because however usually rather often each other "
    "different time first way people make good between while through number case point system "
    "order state result process level change method model data type string list key error"
).split()
FIRST_PERSON = ("I think", "In my experience", "I would", "I have found that", "I'd say")
INLINE_CODE = ("a < b", "x && y", 'print("hi")', "T&", "<br/>")
CODE_SNIPPETS = (
    'if (a < b && c > d) {\n    printf("%d\\n", a & 0xff);\n}',
    'for i in range(10):\n    print(f"{i} -> {i ** 2}")',
    "SELECT name FROM users WHERE age >= 18 AND city <> 'Paris';",
    '<div class="box">&nbsp;</div>\n<script>alert("x");</script>',
    "template <typename T>\nstd::vector<T> copy(const std::vector<T>& v) { return v; }",
    "echo \"$HOME\" | sed 's/&/and/g' > out.txt",
)


def _escape_html(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


def _escape_attribute(text: str) -> str:
    return _escape_html(text).replace("\n", "&#xA;")


class _Sampler:
    """Inverse-CDF draws from a histogram or from a table of percentiles."""

    def __init__(self, rng: random.Random):
        self.rng = rng
        self._hist: dict[str, tuple[list, list]] = {}
        for name in ("question_score", "answer_score", "answers_per_question"):
            values, counts = zip(*sorted(DISTRIBUTIONS[name].items()))
            self._hist[name] = (list(values), list(itertools.accumulate(counts)))

    def histogram(self, name: str) -> int:
        values, cumulative = self._hist[name]
        return values[bisect.bisect_right(cumulative, self.rng.random() * cumulative[-1])]

    def length(self, name: str) -> int:
        u = self.rng.random() * 100
        pct, lengths = DISTRIBUTIONS["percentiles"], DISTRIBUTIONS[name]
        i = min(bisect.bisect_right(pct, u), len(pct) - 1)
        low_p, high_p = pct[i - 1], pct[i]
        return int(lengths[i - 1] + (lengths[i] - lengths[i - 1]) * (u - low_p) / (high_p - low_p))


def _fragments(rng: random.Random, count: int) -> list[str]:
    """HTML pieces of a body: (escaped for an XML attribute, length of the HTML itself)."""

    def sentence(first_person: bool = False) -> str:
        words = rng.choices(WORDS, k=rng.randint(6, 22))
        text = " ".join(words)
        if first_person:
            text = f"{rng.choice(FIRST_PERSON)} {text}"
        return text[0].upper() + text[1:] + "."

    pieces = []
    for _ in range(count):
        kind = rng.random()
        if kind < 0.55:
            body = " ".join(sentence(rng.random() < 0.04) for _ in range(rng.randint(1, 5)))
            if rng.random() < 0.3:
                code = _escape_html(rng.choice(INLINE_CODE))
                body += f" Use <code>{code}</code> here."
            if rng.random() < 0.2:
                body += f' See <a href="https://example.com/{rng.randint(1, 10**6)}" rel="nofollow">{rng.choice(WORDS)} docs</a>.'
            if rng.random() < 0.05:
                body += " Fish &amp; chips &mdash; caf&eacute; &quot;quoted&quot;."
            html = f"<p>{body}</p>\n\n"
        elif kind < 0.7:
            language = rng.choice(['', ' class="lang-py"', ' class="lang-sql"'])
            html = f"<pre{language}><code>{_escape_html(rng.choice(CODE_SNIPPETS))}\n</code></pre>\n\n"
        elif kind < 0.85:
            tag = rng.choice(["ul", "ol"])
            items = "".join(f"<li>{sentence()}</li>\n" for _ in range(rng.randint(2, 6)))
            html = f"<{tag}>\n{items}</{tag}>\n\n"
        elif kind < 0.92:
            html = f"<blockquote>\n  <p>{sentence()} <strong>{rng.choice(WORDS)}</strong></p>\n</blockquote>\n\n"
        else:
            html = (f'<p><img src="https://i.stack.imgur.com/{rng.randint(10**5, 10**6)}.png" '
                    f'alt="enter image description here"> <em>{sentence()}</em></p>\n\n')
        pieces.append((_escape_attribute(html), len(html)))
    return pieces


class _Bodies:
    def __init__(self, rng: random.Random):
        self.rng = rng
        self.pieces = _fragments(rng, 4000)

    def body(self, length: int, post_id: int) -> str:
        """About ``length`` characters of HTML (as measured on the real dumps, after XML
        decoding); the id goes in, so that no two bodies are the same text."""
        parts, size = [f"&lt;p&gt;Post {post_id}.&lt;/p&gt;&#xA;"], 14
        while size < length:
            piece, html_length = self.rng.choice(self.pieces)
            if size + html_length // 2 > length and size > 14:
                break  # nearer the target without this piece
            parts.append(piece)
            size += html_length
        return "".join(parts)

    def title(self, length: int) -> str:
        words, size = [], 0
        while size < length:
            word = self.rng.choice(WORDS)
            words.append(word)
            size += len(word) + 1
        return _escape_attribute(" ".join(words).capitalize() + "?")


def _dates(rng: random.Random, count: int) -> list[str]:
    # A pool drawn from once per row: rng.randint is the generator's slowest call.
    return [
        f"20{rng.randint(10, 23)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}T"
        f"{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d}.{rng.randint(0, 999):03d}"
        for _ in range(count)
    ]


def _owner(rng: random.Random) -> str:
    user = 2 + int(rng.random() * 10**6)
    if rng.random() < DISTRIBUTIONS["deleted_owner_share"]:
        return f'OwnerDisplayName="user{user}"'
    return f'OwnerUserId="{user}"'


def _tags(rng: random.Random) -> str:
    tags = rng.sample(WORDS[-40:], rng.randint(1, 4))
    return "".join(f"&lt;{tag}&gt;" for tag in tags)


def write_posts_xml(path: str | Path, megabytes: float, seed: int = 0) -> dict:
    """Write a synthetic Posts.xml of at least ``megabytes`` x 10^6 bytes; return its counts."""
    rng = random.Random(seed)
    draw = _Sampler(rng)
    bodies = _Bodies(rng)
    dates = _dates(rng, 5000)
    target = int(megabytes * 1_000_000)
    counts = Counter()
    next_id = 1
    written = 0
    wiki_share = DISTRIBUTIONS["tag_wiki_share"]
    histogram = DISTRIBUTIONS["answers_per_question"]
    # The measured share is over all questions; only answered ones can have an accepted answer.
    accepted_share = DISTRIBUTIONS["accepted_share"] * sum(histogram.values()) / (
        sum(histogram.values()) - histogram.get(0, 0)
    )
    with open(path, "w", encoding="utf-8", newline="\n", buffering=1 << 20) as out:
        head = '\ufeff<?xml version="1.0" encoding="utf-8"?>\n<posts>\n'
        out.write(head)
        written += len(head.encode())
        while written < target:
            # A block of questions; each answer lands a few rows after its question, as in a
            # dump sorted by id where answers are posted later.
            block: list[list] = []
            for _ in range(32):
                answers = draw.histogram("answers_per_question")
                position = len(block)
                block.append(["q", answers])
                for _ in range(answers):
                    block.insert(rng.randint(position + 1, len(block)), ["a", position])
            # Tag wikis come in pairs: the excerpt (5), often with an empty body, and the wiki (4).
            for _ in range(sum(rng.random() < wiki_share / 2 for _ in block)):
                block.extend((["wiki", "5"], ["wiki", "4"]))
            ids = []
            for _ in block:
                next_id += 1 + (rng.random() < 0.1) * rng.randint(1, 5)  # ids have gaps
                ids.append(next_id)
            answer_ids: dict[int, list[int]] = {}
            for row, row_id in zip(block, ids):
                if row[0] == "a":
                    answer_ids.setdefault(row[1], []).append(row_id)
            lines = []
            for index, (row, row_id) in enumerate(zip(block, ids)):
                licence = rng.choice(("CC BY-SA 3.0", "CC BY-SA 4.0"))
                if row[0] == "q":
                    mine = answer_ids.get(index, [])
                    accepted = (f' AcceptedAnswerId="{rng.choice(mine)}"'
                                if mine and rng.random() < accepted_share else "")
                    body = bodies.body(draw.length("question_length"), row_id)
                    lines.append(
                        f'  <row Id="{row_id}" PostTypeId="1"{accepted} CreationDate="{rng.choice(dates)}" '
                        f'Score="{draw.histogram("question_score")}" ViewCount="{5 + int(rng.random() * 50000)}" '
                        f'Body="{body}" {_owner(rng)} LastActivityDate="{rng.choice(dates)}" '
                        f'Title="{bodies.title(draw.length("title_length"))}" Tags="{_tags(rng)}" '
                        f'AnswerCount="{len(mine)}" CommentCount="{int(rng.random() * 10)}" '
                        f'ContentLicense="{licence}" />\n'
                    )
                    counts["questions"] += 1
                elif row[0] == "a":
                    body = bodies.body(draw.length("answer_length"), row_id)
                    lines.append(
                        f'  <row Id="{row_id}" PostTypeId="2" ParentId="{ids[row[1]]}" '
                        f'CreationDate="{rng.choice(dates)}" Score="{draw.histogram("answer_score")}" '
                        f'Body="{body}" {_owner(rng)} LastActivityDate="{rng.choice(dates)}" '
                        f'CommentCount="{int(rng.random() * 10)}" ContentLicense="{licence}" />\n'
                    )
                    counts["answers"] += 1
                else:
                    body = "" if row[1] == "5" and rng.random() < 0.5 else bodies.body(100, row_id)
                    lines.append(
                        f'  <row Id="{row_id}" PostTypeId="{row[1]}" CreationDate="{rng.choice(dates)}" '
                        f'Score="0" Body="{body}" OwnerUserId="-1" LastActivityDate="{rng.choice(dates)}" '
                        f'CommentCount="0" CommunityOwnedDate="{rng.choice(dates)}" ContentLicense="{licence}" />\n'
                    )
                    counts["tag_wikis"] += 1
            chunk = "".join(lines)
            out.write(chunk)
            written += len(chunk.encode())
            counts["rows"] += len(lines)
        out.write("</posts>\n")
        written += len("</posts>\n")
    counts["bytes"] = written
    return dict(counts)


def measure_distributions(folder: str | Path) -> dict:
    """The histograms and percentiles of every Posts.xml under ``folder`` (real dumps)."""
    import numpy as np
    from lxml import etree

    question_score, answer_score, per_question = Counter(), Counter(), Counter()
    lengths = {"question_length": [], "answer_length": [], "title_length": []}
    rows = wikis = accepted = deleted = 0
    for posts in sorted(Path(folder).rglob("Posts.xml")):
        questions, answers = set(), Counter()
        for _, row in etree.iterparse(str(posts), tag="row"):
            rows += 1
            kind = row.get("PostTypeId")
            deleted += row.get("OwnerUserId") is None
            if kind == "1":
                questions.add(row.get("Id"))
                question_score[int(row.get("Score", 0))] += 1
                lengths["question_length"].append(len(row.get("Body", "")))
                lengths["title_length"].append(len(row.get("Title", "")))
                accepted += row.get("AcceptedAnswerId") is not None
            elif kind == "2":
                answers[row.get("ParentId")] += 1
                answer_score[int(row.get("Score", 0))] += 1
                lengths["answer_length"].append(len(row.get("Body", "")))
            else:
                wikis += 1
            row.clear()
        per_question.update(answers.get(q, 0) for q in questions)
    percentiles = DISTRIBUTIONS["percentiles"]
    n_questions = sum(question_score.values())
    return {
        "question_score": dict(sorted(question_score.items())),
        "answer_score": dict(sorted(answer_score.items())),
        "answers_per_question": dict(sorted(per_question.items())),
        "percentiles": percentiles,
        **{name: [int(np.percentile(v, p)) for p in percentiles] for name, v in lengths.items() if v},
        "tag_wiki_share": round(wikis / max(rows, 1), 4),
        "accepted_share": round(accepted / max(n_questions, 1), 3),
        "deleted_owner_share": round(deleted / max(rows, 1), 3),
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", nargs="?", help="the Posts.xml to write")
    parser.add_argument("--mb", type=float, default=200, help="size in megabytes (10^6 bytes)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--measure", metavar="FOLDER", help="print the distributions of real dumps")
    args = parser.parse_args(argv)
    if args.measure:
        print(json.dumps(measure_distributions(args.measure), indent=1))
        return 0
    if not args.out:
        parser.error("give the file to write (or --measure FOLDER)")
    started = time.perf_counter()
    counts = write_posts_xml(args.out, args.mb, args.seed)
    seconds = time.perf_counter() - started
    print(f"{args.out}: {counts['bytes'] / 1e6:.1f} MB, {counts['rows']:,} rows "
          f"({counts['questions']:,} questions, {counts['answers']:,} answers, "
          f"{counts.get('tag_wikis', 0):,} tag wikis) in {seconds:.1f} s "
          f"({counts['bytes'] / 1e6 / seconds:.0f} MB/s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
