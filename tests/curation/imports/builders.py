"""Source files written by tests: Stack Exchange posts, JSONL conversations."""
import json
import time

SENTENCES = (
    "Water just off the boil extracts the oils without scorching the grounds. ",
    "A coarse grind suits a long steep, while a fine grind suits a short one. ",
    "Fresh beans give off carbon dioxide for several days after roasting. ",
    "Letting the bloom settle for thirty seconds evens out the extraction. ",
    "Hard water leaves scale in the kettle and dulls the taste of the cup. ",
)


def long_answer(seed=0, chars=1500):
    """An answer LIMA's rules accept: 1,200-4,096 characters, no first person, no reference to others."""
    text, i = "", seed
    while len(text) < chars:
        text += SENTENCES[i % len(SENTENCES)]
        i += 1
    return f"<p>{text.strip()}</p>"


def _attr(text):
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


def question_row(post_id, title, *, score=5, body="<p>What is the best way?</p>", accepted=None):
    accepted_attr = f' AcceptedAnswerId="{accepted}"' if accepted else ""
    return (f'  <row Id="{post_id}" PostTypeId="1"{accepted_attr} CreationDate="2020-01-0{post_id % 9 + 1}T10:00:00.000"'
            f' Score="{score}" Body="{_attr(body)}" OwnerUserId="{post_id + 100}" Title="{_attr(title)}"'
            f' Tags="&lt;brewing&gt;" ContentLicense="CC BY-SA 4.0" />\n')


def answer_row(post_id, parent, *, score=12, body=None, owner="7"):
    body = long_answer() if body is None else body
    return (f'  <row Id="{post_id}" PostTypeId="2" ParentId="{parent}" CreationDate="2020-02-01T10:00:00.000"'
            f' Score="{score}" Body="{_attr(body)}" OwnerUserId="{owner}" ContentLicense="CC BY-SA 4.0" />\n')


def write_posts(folder, rows):
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "Posts.xml"
    path.write_text('<?xml version="1.0" encoding="utf-8"?>\n<posts>\n' + "".join(rows) + "</posts>\n", encoding="utf-8")
    return path


def qa_rows(count, *, first_id=1, score=12, question_score=None):
    """`count` questions each with one answer of `score`: ids 1/2, 3/4, ..."""
    rows = []
    for n in range(count):
        q = first_id + 2 * n
        rows.append(question_row(q, f"How long should coffee number {q} steep?", score=question_score or (n + 1)))
        rows.append(answer_row(q + 1, q, score=score))
    return rows


def write_jsonl(path, rows):
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def lima_rows(count, *, prefix="Question"):
    return [{"conversations": [f"{prefix} {n}: how does a kettle work?", f"Answer {n}: it heats water."],
             "source": "handwritten"} for n in range(count)]


def import_finished(run, timeout=180):
    """The import ended, and so did the duplicate search it starts (which writes signatures: left running, it
    would write into the next test's tables, or deadlock with this one's teardown)."""
    from curation.models import DedupeRun, ImportRun

    deadline = time.monotonic() + timeout
    while run.status in (ImportRun.Status.QUEUED, ImportRun.Status.RUNNING):
        assert time.monotonic() < deadline, f"import #{run.pk} still {run.status} after {timeout}s"
        time.sleep(0.2)
        run.refresh_from_db()
    started = run.created_count or run.updated_count  # only then does the worker queue a search, just after
    active = DedupeRun.objects.filter(status__in=(DedupeRun.Status.QUEUED, DedupeRun.Status.RUNNING))
    while active.exists() or (started and not DedupeRun.objects.filter(created_at__gte=run.started_at).exists()):
        assert time.monotonic() < deadline, f"the duplicate search after import #{run.pk} still going after {timeout}s"
        time.sleep(0.2)
    return run
