"""Stack Exchange dumps: a row over IMPORT_MAX_RECORD_BYTES, a .7z member expanding past IMPORT_MAX_EXPANDED_BYTES
and an entity bomb each end with the file and the limit named, in bounded memory."""
import py7zr
import pytest

from tests.curation.hostile.bombs import MB, RSS_BOUND_MB, read_in_child
from tests.curation.imports.builders import qa_rows


def posts_xml(folder, rows):
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "Posts.xml"
    path.write_text('<?xml version="1.0" encoding="utf-8"?>\n<posts>\n' + "".join(rows) + "</posts>\n")
    return path


def test_a_row_over_the_record_limit_is_refused_in_bounded_memory(tmp_path):
    folder = tmp_path / "cooking.stackexchange.com"
    path = posts_xml(folder, qa_rows(2))
    with open(path, "r+") as out:  # a 200 MB body in one row, before the closing tag
        text = out.read()
        out.seek(len(text) - len("</posts>\n"))
        out.write('  <row Id="99" PostTypeId="1" Score="50" Title="Big" Body="')
        for _ in range(200):
            out.write("x" * MB)
        out.write('" />\n</posts>\n')
    result = read_in_child("stackexchange", folder)
    assert result["error_type"] == "LimitExceeded", result
    assert result["error"].startswith(f"{path}, byte offset ")
    assert "one record is over the limit IMPORT_MAX_RECORD_BYTES=16,777,216" in result["error"]
    assert result["max_rss_mb"] < RSS_BOUND_MB, result


def test_an_archive_member_over_the_expanded_limit(tmp_path):
    folder = tmp_path / "xml"
    posts = posts_xml(folder, qa_rows(40))
    archive = tmp_path / "cooking.stackexchange.com.7z"
    with py7zr.SevenZipFile(archive, "w") as out:
        out.write(posts, "Posts.xml")
    limit = posts.stat().st_size // 2
    result = read_in_child("stackexchange", archive, env={"IMPORT_MAX_EXPANDED_BYTES": str(limit)})
    assert result["error"] == (f"{archive}:Posts.xml, byte {limit:,} of the member: the decompressed data is over "
                               f"the limit IMPORT_MAX_EXPANDED_BYTES={limit:,} (raise it to read this file)")
    assert read_in_child("stackexchange", archive)["error"] is None


def test_an_entity_bomb_is_refused_by_the_parser(tmp_path):
    folder = tmp_path / "cooking.stackexchange.com"
    folder.mkdir()
    levels = ['<!ENTITY l0 "' + "ha" * 50 + '">'] + [f'<!ENTITY l{i} "' + f"&l{i - 1};" * 10 + '">' for i in range(1, 9)]
    (folder / "Posts.xml").write_text(
        '<?xml version="1.0"?>\n<!DOCTYPE posts [' + "".join(levels) + ']>\n<posts>\n'
        '  <row Id="1" PostTypeId="1" Score="20" Title="t" Body="&l8;" />\n</posts>\n')
    result = read_in_child("stackexchange", folder)
    assert result["error_type"] == "SourceFormatError"
    assert "Posts.xml, line 4: malformed XML: Maximum entity amplification factor exceeded" in result["error"]
    assert result["max_rss_mb"] < RSS_BOUND_MB, result


@pytest.mark.parametrize("rows", [2])
def test_ordinary_dumps_still_read(tmp_path, rows):
    result = read_in_child("stackexchange", posts_xml(tmp_path / "cooking.stackexchange.com", qa_rows(rows)))
    assert result["error"] is None and result["records"] >= rows
