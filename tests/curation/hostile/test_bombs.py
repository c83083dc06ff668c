"""The issue's decompression bombs and deep JSON, read by the real parsers in a child process: each ends with a
message naming the file, the place and the limit, and the child's peak memory stays under RSS_BOUND_MB."""
import json

import pytest

from curation.sources import limits
from curation.sources.limits import LimitExceeded
from tests.curation.hostile.bombs import (
    MB,
    RSS_BOUND_MB,
    deep_json,
    long_line_bomb,
    newline_bomb,
    read_in_child,
)


@pytest.fixture(scope="module")
def newlines_zst(tmp_path_factory):
    path = newline_bomb(tmp_path_factory.mktemp("bombs") / "RS_newlines.zst")
    assert path.stat().st_size < 100_000  # the 65 KB file: 2 GiB of newlines
    return path


def test_newline_bomb_stops_at_the_expanded_limit_in_little_memory(newlines_zst):
    result = read_in_child("reddit", newlines_zst, env={"IMPORT_MAX_EXPANDED_BYTES": str(256 * MB)})
    assert result["error_type"] == "LimitExceeded"
    assert str(newlines_zst) in result["error"]
    assert "compressed byte offset" in result["error"]
    assert "IMPORT_MAX_EXPANDED_BYTES=268,435,456" in result["error"]
    assert result["max_rss_mb"] < RSS_BOUND_MB, result


def test_newline_bomb_read_to_its_end_in_little_memory(newlines_zst):
    # Under the default limit the 2 GiB of blank lines are read (counted, never collected): the parser then says
    # the file holds nothing, as for any file without a submission.
    result = read_in_child("reddit", newlines_zst)
    assert result["error_type"] == "NoRecordMatched"
    assert result["max_rss_mb"] < RSS_BOUND_MB, result


def test_one_gigabyte_line_is_refused_at_the_record_limit(tmp_path):
    path = long_line_bomb(tmp_path / "RS_one_line.zst")
    assert path.stat().st_size < 50_000
    result = read_in_child("reddit", path)
    assert result["error"] == (f"{path}, line 1: one record is over the limit IMPORT_MAX_RECORD_BYTES=16,777,216 "
                               "(raise it to read this file)")
    assert result["max_rss_mb"] < RSS_BOUND_MB, result


def test_one_gigabyte_line_in_a_plain_jsonl_file(tmp_path):
    path = tmp_path / "big.jsonl"
    with open(path, "wb") as out:
        out.write(b'{"instruction": "')
        out.truncate(200 * MB)  # a sparse file: 200 MB of NUL bytes on no line end
    result = read_in_child("jsonl", path)
    assert result["error_type"] == "LimitExceeded"
    assert f"{path}, line 1" in result["error"]
    assert "IMPORT_MAX_RECORD_BYTES" in result["error"]
    assert result["max_rss_mb"] < RSS_BOUND_MB, result


def test_record_limit_is_a_setting(tmp_path):
    path = tmp_path / "rows.jsonl"
    path.write_text(json.dumps({"instruction": "Say hi.", "output": "x" * 5000}) + "\n")
    result = read_in_child("jsonl", path, env={"IMPORT_MAX_RECORD_BYTES": "1000"})
    assert "IMPORT_MAX_RECORD_BYTES=1,000" in result["error"]
    assert read_in_child("jsonl", path)["records"] == 1


def test_deep_json_line_names_the_depth_limit(tmp_path):
    path = tmp_path / "deep.jsonl"
    path.write_text(json.dumps({"instruction": "Say hi.", "output": "Hi."}) + "\n" + deep_json() + "\n")
    result = read_in_child("jsonl", path)
    assert result["error"] == (f"{path}, line 2: JSON nesting is over the limit IMPORT_MAX_JSON_DEPTH=64 "
                               "(raise it to read this file)")
    assert result["max_rss_mb"] < RSS_BOUND_MB, result


def test_nesting_under_python_recursion_but_over_the_limit(tmp_path):
    path = tmp_path / "deep.jsonl"
    path.write_text(json.dumps({"instruction": "Say hi.", "output": "Hi.", "meta": json.loads(deep_json(100))}) + "\n")
    assert "IMPORT_MAX_JSON_DEPTH=64" in read_in_child("jsonl", path)["error"]
    assert read_in_child("jsonl", path, env={"IMPORT_MAX_JSON_DEPTH": "200"})["records"] == 1


@pytest.mark.parametrize("parser, name", [("jsonl", "rows.json"), ("natural_instructions", "task001_deep.json")])
def test_deep_json_document(tmp_path, parser, name):
    path = tmp_path / name
    path.write_text(deep_json())
    result = read_in_child(parser, path)
    assert result["error"] == (f"{path}: JSON nesting is over the limit IMPORT_MAX_JSON_DEPTH=64 "
                               "(raise it to read this file)")


@pytest.mark.parametrize("parser, name", [("jsonl", "rows.json"), ("natural_instructions", "task001_big.json")])
def test_json_document_read_whole_is_held_to_the_document_limit(tmp_path, parser, name):
    path = tmp_path / name
    path.write_text(json.dumps([{"instruction": "Say hi.", "output": "x" * 3000}]))
    result = read_in_child(parser, path, env={"IMPORT_MAX_DOCUMENT_BYTES": "2000"})
    assert result["error"] == (f"{path}: a JSON file read whole is over the limit IMPORT_MAX_DOCUMENT_BYTES=2,000 "
                               "(raise it to read this file)")


def test_json_depth_counts_without_recursion():
    assert limits.json_depth(1) == 0
    assert limits.json_depth({"a": [1, {"b": []}]}) == 4
    assert limits.json_depth(json.loads(deep_json(500))) == 500
    with pytest.raises(LimitExceeded, match="IMPORT_MAX_JSON_DEPTH=3"):
        limits.loads("[[[[1]]]]", "f.json", "line 1", limits.Limits(max_json_depth=3))
