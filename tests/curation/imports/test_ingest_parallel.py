"""A big Stack Exchange dump is read by two processes (pass 1 in parts, pass 2 shared with a child):
the records, their order, the counts and the errors are those of one process reading it alone."""
import collections
import importlib.util
import os
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from curation.sources import stackexchange
from curation.sources.records import SourceFormatError
from curation.sources.stackexchange import iter_records
from tests.samples import SHARED_DATA

FIXTURES = Path(__file__).parents[1] / "fixtures" / "stackexchange"
COOKING = FIXTURES / "cooking.stackexchange.com"
SHARED = SHARED_DATA / "stackexchange"
BENCH_DATA = Path(__file__).resolve().parents[3] / "bench" / "ingest_data.py"


class ForkLog(list):
    """The child processes started; parts_used: for each site read, whether pass 1 ran in parts."""

    def __init__(self):
        super().__init__()
        self.parts_used = []


@pytest.fixture
def forks(monkeypatch):
    made = ForkLog()

    class Counted(stackexchange.ForkedChild):
        def __init__(self, produce):
            made.append(self)
            super().__init__(produce)

    real_scan_in_parts = stackexchange._scan_in_parts

    def scan_in_parts(*args, **kwargs):
        scan = real_scan_in_parts(*args, **kwargs)
        made.parts_used.append(scan is not None)
        return scan

    monkeypatch.setattr(stackexchange, "ForkedChild", Counted)
    monkeypatch.setattr(stackexchange, "_scan_in_parts", scan_in_parts)
    return made


@pytest.fixture
def share(monkeypatch):
    """share(True): dumps are read shared with child processes whatever their size and the machine's CPUs;
    share(False): in this process alone."""
    monkeypatch.setattr(stackexchange, "PARALLEL_MIN_BYTES", 0)
    monkeypatch.setattr(stackexchange, "PARALLEL_MIN_PAIRS", 0)

    def share(shared):
        monkeypatch.setattr(stackexchange, "_processes", lambda: 2 if shared else 1)

    return share


@pytest.fixture
def read(share):
    """read(path, shared, **options) -> (records, stats)."""

    def read(path, shared, **options):
        share(shared)
        stats = collections.Counter()
        return list(iter_records(path, stats=stats, **options)), stats

    return read


def synthetic_dump(folder, megabytes=1.0):
    spec = importlib.util.spec_from_file_location("bench_ingest_data", BENCH_DATA)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    posts = folder / "bench.stackexchange.com" / "Posts.xml"
    posts.parent.mkdir(parents=True)
    module.write_posts_xml(posts, megabytes, seed=3)
    return posts.parent


def dump_with(tmp_path, text, name="cooking.stackexchange.com"):
    folder = tmp_path / name
    folder.mkdir()
    (folder / "Posts.xml").write_text(text, encoding="utf-8")
    return folder


def cooking_rows():
    """The hand-written dump's header, row lines and footer (BOM, CRLF)."""
    lines = (COOKING / "Posts.xml").read_bytes().decode("utf-8-sig").split("\r\n")
    rows = [line for line in lines if line.lstrip().startswith("<row")]
    return lines[: lines.index(rows[0])], rows, lines[lines.index(rows[-1]) + 1:]


def test_a_shared_read_gives_the_records_of_one_process_in_the_same_order(read, forks, tmp_path):
    dump = synthetic_dump(tmp_path)

    alone, alone_stats = read(dump, shared=False)
    assert forks == []
    shared, shared_stats = read(dump, shared=True)

    assert len(forks) == 2 and forks.parts_used == [False, True]  # pass 1's second part, pass 2's child
    assert shared == alone and shared_stats == alone_stats
    assert sum(r.reject_reason is None for r in shared) > 0 and len({r.external_id for r in shared}) == len(shared)


def test_the_hand_written_dump_with_every_quirk_reads_the_same_shared(read, forks):
    alone, alone_stats = read(COOKING, shared=False)
    shared, shared_stats = read(COOKING, shared=True)

    assert len(forks) == 2 and forks.parts_used == [False, True]
    assert shared == alone and shared_stats == alone_stats
    assert {r.metadata["question_id"]: r.reject_reason for r in shared}[1] is None
    assert "Ana Barista" in {r.metadata.get("author") for r in shared}  # names from Users.xml, in the child too


def test_the_real_samples_read_the_same_shared(read, forks):
    if not SHARED.is_dir():
        pytest.skip(f"{SHARED} is absent")
    alone, alone_stats = read(SHARED, shared=False)
    shared, shared_stats = read(SHARED, shared=True)

    assert shared == alone and shared_stats == alone_stats
    assert len(forks) >= 2 and True in forks.parts_used


def test_lines_holding_two_rows_or_half_a_row_read_the_same_shared(read, tmp_path):
    head, rows, foot = cooking_rows()
    text = "\r\n".join(head + rows + foot)
    text = text.replace("\r\n  <row Id=\"2\"", " <row Id=\"2\"").replace(
        ' Body="&lt;p&gt;Use water', '\n Body="&lt;p&gt;Use water')
    dump = dump_with(tmp_path, text)

    shared, shared_stats = read(dump, shared=True)

    alone, alone_stats = read(dump, shared=False)
    assert shared == alone and shared_stats == alone_stats and len(shared) == 8


@pytest.mark.parametrize("wrapper", [("<!--", "-->"), ("<![CDATA[", "]]>"), ("<old>", "</old>")])
def test_a_cut_that_falls_inside_a_comment_cdata_or_another_element_is_not_used(wrapper, read, forks, tmp_path):
    # given: row-like lines in the middle of the file, hidden in a comment or CDATA, or nested in <old>
    head, rows, foot = cooking_rows()
    hidden = [f'  <row Id="{900 + n}" PostTypeId="1" Title="Hidden {n}" Score="50" />' for n in range(200)]
    text = "\r\n".join(head + rows[:10] + [wrapper[0]] + hidden + [wrapper[1]] + rows[10:] + foot)
    dump = dump_with(tmp_path, text)
    cut = stackexchange._cut_points(dump / "Posts.xml", len(text.encode()), 2)
    assert cut is not None and text.index(hidden[0]) < cut[1][0] < text.index(hidden[-1])  # the cut is in there

    # when
    shared, shared_stats = read(dump, shared=True)

    # then
    alone, alone_stats = read(dump, shared=False)
    assert forks.parts_used == [False, False]  # the parts did not parse: one pass read the file
    assert shared == alone and shared_stats == alone_stats
    expected_rows = 20 + (200 if wrapper[0] == "<old>" else 0)  # nested rows are rows; hidden ones are not
    assert shared_stats["rows"] == expected_rows


def test_a_malformed_dump_fails_with_the_message_of_one_process(read, tmp_path):
    dump = synthetic_dump(tmp_path)
    posts = dump / "Posts.xml"
    lines = posts.read_bytes().split(b"\n")
    late = max(i for i, line in enumerate(lines) if b'PostTypeId="2"' in line)  # an answer in the second part
    lines[late] = lines[late].replace(b' Score="', b' Score="x', 1)
    posts.write_bytes(b"\n".join(lines))

    messages = []
    for shared in (False, True):
        with pytest.raises(SourceFormatError) as error:
            read(dump, shared=shared)
        messages.append(str(error.value))

    assert messages[0] == messages[1]
    assert f"line {late + 1}" in messages[0] and "is not an integer" in messages[0]

    truncated = []
    for shared in (False, True):
        with pytest.raises(SourceFormatError) as error:
            read(FIXTURES / "truncated", shared=shared, site="cooking.stackexchange.com")
        truncated.append(str(error.value))
    assert truncated[0] == truncated[1] and "line 8" in truncated[0]


def test_an_error_in_the_childs_records_stops_the_read_where_one_process_stops(share, tmp_path):
    # given: question 19's score is no number; an odd question, so the child makes its record
    head, rows, foot = cooking_rows()
    (broken,) = [i for i, row in enumerate(rows) if 'Id="19" PostTypeId="1"' in row]
    rows[broken] = rows[broken].replace(' Score="', ' Score="lots', 1)
    dump = dump_with(tmp_path, "\r\n".join(head + rows + foot))
    modulus = stackexchange._PASS2_SHARE[1]
    assert 19 % modulus >= modulus - stackexchange._PASS2_SHARE[0]

    outcomes = []
    for shared in (False, True):
        share(shared)
        got = []
        with pytest.raises(ValueError) as error:
            for record in iter_records(dump):
                got.append(record.external_id)
        outcomes.append((got, str(error.value)))

    assert outcomes[0] == outcomes[1]
    assert "lots" in outcomes[0][1] and outcomes[0][0]  # some records came before it


def test_children_and_their_files_are_gone_after_a_full_or_a_stopped_read(share, tmp_path):
    dump = synthetic_dump(tmp_path)
    work = tmp_path / "work"
    work.mkdir()
    before = {child.pid for child in psutil.Process().children()}
    share(True)

    records = list(iter_records(dump, workdir=str(work), join_memory_mb=0))  # the join spills to disk
    assert records and os.listdir(work) == []

    stopped = iter_records(dump, workdir=str(work), join_memory_mb=0)
    next(stopped)
    assert any(name.startswith("stackexchange-part-") for name in os.listdir(work))  # the child is at work
    assert len({child.pid for child in psutil.Process().children()} - before) == 1
    stopped.close()

    assert os.listdir(work) == []
    assert {child.pid for child in psutil.Process().children()} == before


ORPHAN = """
import time
from curation.sources import stackexchange

def forever():
    while True:
        time.sleep(0.05)
        yield 1

child = stackexchange.ForkedChild(forever)
print(child.pid, flush=True)
time.sleep(60)
"""


def test_a_child_dies_with_its_process():
    # given: a process (an import's worker) with a child at work
    process = subprocess.Popen([sys.executable, "-c", ORPHAN], stdout=subprocess.PIPE, text=True,
                               cwd=Path(__file__).resolve().parents[3])
    child_pid = int(process.stdout.readline())
    assert psutil.pid_exists(child_pid)

    # when: the process is killed
    process.kill()
    process.wait()

    # then: its child goes too, rather than work on for nobody
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            if psutil.Process(child_pid).status() == psutil.STATUS_ZOMBIE:
                break
        except psutil.NoSuchProcess:
            break
        time.sleep(0.05)
    else:
        pytest.fail(f"the child {child_pid} outlived its process")
