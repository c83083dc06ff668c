import io
import json
import random
import re
import shutil
import tracemalloc
from collections import Counter
from pathlib import Path

import pytest
import zstandard

from curation.sources.cleaning import clean_markdown
from curation.sources.records import SourceFormatError, warnings_of
from curation.sources.reddit import NoRecordMatched, iter_records
from tests.samples import SHARED_DATA

FIXTURES = Path(__file__).parents[1] / "fixtures" / "reddit"
RS = FIXTURES / "RS_sample.ndjson"
RC = FIXTURES / "RC_sample.ndjson"
DATA = SHARED_DATA / "reddit_pushshift"
ASKWOMEN_ZST = DATA / "filtered_AskWomen_subset" / "RS_2019-10.zst"
ASKWOMEN_FIRST_500 = DATA / "filtered_AskWomen_subset" / "RS_2019-10.first500.decompressed.ndjson"
COMMENTS_ZST = DATA / "RC_2005-12.zst"


def write_pushshift_zst(source: Path | bytes, target: Path) -> Path:
    """Compress like Pushshift does: one frame, 2 GiB window, size unknown up front, checksum."""
    data = source if isinstance(source, bytes) else source.read_bytes()
    params = zstandard.ZstdCompressionParameters.from_level(
        3, window_log=31, enable_ldm=True, write_checksum=True
    )
    with (
        open(target, "wb") as f,
        zstandard.ZstdCompressor(compression_params=params).stream_writer(f) as w,
    ):
        w.write(data)
    return target


def noisy_comments(count: int, subreddit: str = "other") -> bytes:
    """Comments with varied text, so they compress about as well as real ones (~5x)."""
    rng = random.Random(0)
    words = ["the", "dragon", "knight", "bread", "moon", "story", "ran", "said", "quietly", "gold"]
    lines = [
        json.dumps(
            {
                "id": f"c{i}",
                "parent_id": "t3_x",
                "subreddit": subreddit,
                "body": " ".join(rng.choice(words) + str(rng.randrange(1000)) for _ in range(40)),
                "score": rng.randrange(-5, 500),
            }
        )
        for i in range(count)
    ]
    return ("\n".join(lines) + "\n").encode()


def by_id(records):
    return {r.external_id: r for r in records}


def read_zst_lines(path: Path) -> list[dict]:
    with open(path, "rb") as f:
        reader = zstandard.ZstdDecompressor(max_window_size=2**31).stream_reader(f)
        text = io.TextIOWrapper(reader, encoding="utf-8")
        return [json.loads(line) for line in text if line.strip()]


def needs(path: Path):
    if not path.exists():
        pytest.skip(f"{path} is absent")


# --- Pairing and rules, on hand-written files ---------------------------------------------------


def test_it_pairs_a_submission_with_its_highest_scored_top_level_comment():
    records = by_id(iter_records([RS, RC]))

    story = records["t3_wp1"]
    # c2 (300) is a reply, c3 (200) the AutoModerator sticky, c5 (500) deleted, c4 ties c1 at 80
    # but came later.
    assert story.accepted
    assert story.metadata["comment_id"] == "c1"
    assert story.turns[1].startswith("The dragon wiped flour off her snout")


def test_it_decodes_reddit_escapes_exactly_once():
    records = by_id(iter_records([RS, RC]))

    story = records["t3_wp1"]
    assert story.turns[0] == "A dragon opens a bakery & a knight applies for a job"
    assert 'snout & said > "You\'re hired."' in story.turns[1]
    assert "She meant it <3." in story.turns[1]
    # "&amp;amp;" is an author who typed "&amp;": decoded once, it stays "&amp;".
    assert story.turns[1].endswith("Literal text: &amp;")
    assert "\r" not in story.turns[1]
    assert records["t3_ar1"].turns == ["What's the best advice you've ever received? &lt;3"]


def test_it_strips_prompt_tags_from_titles_and_keeps_them_in_metadata():
    records = by_id(iter_records([RS, RC]))

    assert records["t3_wp2"].turns[0] == "The moon files a complaint"
    assert records["t3_wp2"].metadata["tags"] == ["WP", "EU"]
    assert "tags" not in records["t3_ar1"].metadata


def test_it_yields_every_wanted_submission_with_the_reason_it_was_rejected():
    records = by_id(iter_records([RS, RC]))

    reasons = {external_id: r.reject_reason for external_id, r in records.items()}
    assert reasons == {
        "t3_wp1": None,
        "t3_wp2": "comment_removed",  # only [removed] (30), [deleted] (10) and blank (5) answers
        "t3_wp3": "submission_score_below_10",
        "t3_wp4": "submission_removed",
        "t3_wp5": "no_top_level_comment",
        "t3_wp6": "comment_score_below_10",
        "t3_ar1": None,
        "t3_ar2": "submission_score_below_10",
    }
    # A pair rejected for its answer still shows the answer, so a person can rescue it.
    assert records["t3_wp6"].turns == ["Only a weak answer", "Meh."]
    assert records["t3_wp2"].turns == ["The moon files a complaint"]


def test_askreddit_titles_become_prompt_only_records_on_the_test_split():
    records = by_id(iter_records([RS, RC]))

    for external_id in ("t3_ar1", "t3_ar2"):
        assert records[external_id].turns == [records[external_id].turns[0]]
        assert records[external_id].split == "test"
        assert "comment_id" not in records[external_id].metadata
    assert records["t3_wp1"].split == "unassigned"


def test_it_ignores_other_subreddits_and_comments_whose_submission_is_in_no_file():
    records = by_id(iter_records([RS, RC]))

    assert "t3_fn1" not in records and "t3_gone" not in records
    # wp1 appears twice in RS_sample: the first one counts, once.
    assert records["t3_wp1"].metadata["score"] == 120
    assert len(records) == 8


def test_the_result_does_not_depend_on_the_order_of_the_files():
    assert list(iter_records([RC, RS])) == list(iter_records([RS, RC]))


def test_the_choice_of_comment_does_not_depend_on_the_order_of_the_lines(tmp_path):
    reversed_comments = tmp_path / "RC_reversed.ndjson"
    reversed_comments.write_text("\n".join(reversed(RC.read_text().splitlines())))

    assert [
        (r.external_id, r.turns, r.reject_reason) for r in iter_records([RS, reversed_comments])
    ] == [(r.external_id, r.turns, r.reject_reason) for r in iter_records([RS, RC])]


def test_it_keeps_attribution_with_normalised_types():
    records = by_id(iter_records([RS, RC]))

    story = records["t3_wp1"].metadata
    assert (
        story["url"]
        == "https://www.reddit.com/r/WritingPrompts/comments/wp1/wp_a_dragon_opens_a_bakery/"
    )
    assert (story["author"], story["score"], story["created_utc"]) == ("prompter", 120, 1500000000)
    assert (story["comment_author"], story["comment_score"]) == ("storyteller", 80)
    assert story["comment_url"] == "https://www.reddit.com/r/WritingPrompts/comments/wp1/_/c1/"
    assert story["subreddit"] == "WritingPrompts"
    # `edited` is a timestamp on c1; an old dump's string created_utc becomes an int.
    assert (story["edited"], story["edited_utc"]) == (True, 1500002000)
    assert records["t3_wp2"].metadata["created_utc"] == 1500000100
    assert (
        records["t3_wp2"].metadata["url"] == "https://www.reddit.com/r/WritingPrompts/comments/wp2/"
    )
    assert records["t3_wp1"].location == "RS_sample.ndjson line 1"


def test_edited_true_without_a_timestamp_is_kept_as_a_bool(tmp_path):
    comments = tmp_path / "RC.ndjson"
    lines = [json.loads(line) for line in RC.read_text().splitlines() if line.strip()]
    # Remove c1 so c4 (edited: true) is the best answer of wp1.
    comments.write_text("\n".join(json.dumps(c) for c in lines if c["id"] != "c1"))

    story = by_id(iter_records([RS, comments]))["t3_wp1"].metadata
    assert story["comment_id"] == "c4"
    assert (story["edited"], story["edited_utc"]) == (True, None)


def test_subreddit_and_score_options_change_the_selection():
    records = by_id(
        iter_records([RS, RC], subreddits=["r/writingprompts"], min_score=200, min_comment_score=0)
    )

    assert all(r.domain.lower() == "writingprompts" for r in records.values())
    assert records["t3_wp1"].reject_reason == "submission_score_below_200"
    assert records["t3_wp4"].reject_reason == "submission_removed"

    relaxed = by_id(iter_records([RS, RC], min_score=0, min_comment_score=0))
    assert relaxed["t3_wp6"].accepted and relaxed["t3_wp3"].reject_reason == "no_top_level_comment"


def test_subreddits_can_be_given_as_one_comma_separated_string():
    from_string = iter_records(
        [RS, RC], subreddits="r/WritingPrompts, askreddit", prompt_only_subreddits="AskReddit"
    )

    assert list(from_string) == list(iter_records([RS, RC]))


def test_a_prompt_only_subreddit_can_be_chosen():
    records = by_id(iter_records([RS, RC], prompt_only_subreddits=["WritingPrompts", "AskReddit"]))

    assert records["t3_wp1"].turns == ["A dragon opens a bakery & a knight applies for a job"]
    assert records["t3_wp1"].split == "test"
    assert records["t3_wp5"].accepted  # no answer needed for a prompt-only record


def test_it_reads_pushshift_zstd_files_with_a_2_gib_window(tmp_path):
    rs = write_pushshift_zst(RS, tmp_path / "RS_sample.zst")
    rc = write_pushshift_zst(RC, tmp_path / "RC_sample.zst")
    assert zstandard.get_frame_parameters(rs.read_bytes()).window_size == 2**31
    with pytest.raises(zstandard.ZstdError):  # what a default decompressor says about it
        zstandard.ZstdDecompressor().stream_reader(io.BytesIO(rs.read_bytes())).read()

    from_zst = list(iter_records([rs, rc]))

    plain = list(iter_records([RS, RC]))
    assert [(r.external_id, r.turns, r.reject_reason) for r in from_zst] == [
        (r.external_id, r.turns, r.reject_reason) for r in plain
    ]
    assert from_zst[0].location == "RS_sample.zst line 1"


def test_lines_longer_than_a_compressed_block_are_read_whole(tmp_path):
    rng = random.Random(1)
    story = " ".join("".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(1, 12)))
                     for _ in range(30_000))
    comment = {"id": "c99", "parent_id": "t3_wp1", "subreddit": "WritingPrompts", "score": 9000}
    data = RS.read_bytes() + (json.dumps(dict(comment, body=story)) + "\r\n").encode()
    path = write_pushshift_zst(data, tmp_path / "RS_long.zst")
    assert path.stat().st_size > 4 * 16 * 1024  # the line spans several compressed blocks

    story_record = by_id(iter_records(path))["t3_wp1"]

    assert story_record.turns[1] == story.strip()
    assert story_record.metadata["comment_id"] == "c99"


def test_a_folder_is_read_file_by_file(tmp_path):
    shutil.copy(RS, tmp_path / "RS_sample.ndjson")
    shutil.copy(RC, tmp_path / "RC_sample.ndjson")

    assert list(iter_records(tmp_path)) == list(iter_records([RC, RS]))


# --- Malformed files ---------------------------------------------------------------------------


def test_a_broken_json_line_names_the_file_and_the_line():
    with pytest.raises(SourceFormatError) as error:
        list(iter_records(FIXTURES / "RS_broken_json.ndjson"))

    assert "RS_broken_json.ndjson, line 2" in str(error.value)
    assert "invalid JSON" in str(error.value)


def test_a_bad_zstd_frame_names_the_file_and_the_byte_offset(tmp_path):
    # Two frames; the second one's first block header claims the reserved block type.
    first = write_pushshift_zst(noisy_comments(2_000), tmp_path / "first.zst").read_bytes()
    second = bytearray(write_pushshift_zst(RS, tmp_path / "second.zst").read_bytes())
    frame_header = 6  # magic (4) + descriptor (1) + window (1): no size, no dictionary
    second[frame_header] |= 0b110
    bad = tmp_path / "RS_bad.zst"
    bad.write_bytes(first + bytes(second))
    assert len(first) > 16 * 1024

    with pytest.raises(SourceFormatError) as error:
        list(iter_records(bad, subreddits=["other"]))

    match = re.search(r"RS_bad\.zst, byte offset (\d+): bad zstd data", str(error.value))
    assert match, str(error.value)
    damage = len(first) + frame_header
    assert 0 < int(match.group(1)) <= damage < int(match.group(1)) + 16 * 1024


def test_a_truncated_zstd_file_is_an_error_not_a_short_read(tmp_path):
    good = write_pushshift_zst(RS.read_bytes() * 50, tmp_path / "good.zst").read_bytes()
    cut = tmp_path / "RS_cut.zst"
    cut.write_bytes(good[: len(good) * 2 // 3])

    with pytest.raises(SourceFormatError) as error:
        list(iter_records(cut))

    assert "RS_cut.zst, byte offset" in str(error.value)
    assert "truncated" in str(error.value)


def test_garbage_after_the_zstd_magic_number_is_an_error(tmp_path):
    bad = tmp_path / "RC_garbage.zst"
    bad.write_bytes(b"\x28\xb5\x2f\xfd" + b"not really zstd" * 10)

    with pytest.raises(SourceFormatError, match=r"RC_garbage\.zst, byte offset 0"):
        list(iter_records(bad))


@pytest.mark.parametrize(
    "line, message",
    [
        ('["a", "list"]', "expected a JSON object"),
        ('{"id": "x", "subreddit": "WritingPrompts", "score": 3}', "neither a submission"),
        ('{"subreddit": "WritingPrompts", "title": "[WP] no id"}', "submission without an 'id'"),
    ],
)
def test_a_line_that_is_neither_a_submission_nor_a_comment_is_an_error(tmp_path, line, message):
    path = tmp_path / "RS_odd.ndjson"
    path.write_text(RS.read_text().splitlines()[0] + "\n" + line + "\n")

    with pytest.raises(SourceFormatError, match=rf"RS_odd\.ndjson, line 2: .*{message}"):
        list(iter_records(path))


def test_a_missing_path_is_an_error_naming_it(tmp_path):
    with pytest.raises(SourceFormatError, match="RS_nowhere"):
        list(iter_records(tmp_path / "RS_nowhere.zst"))


# --- Constant memory -----------------------------------------------------------------------------


def peak_memory_of(function) -> int:
    tracemalloc.start()
    try:
        function()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.slow
def test_a_zst_is_streamed_in_memory_that_does_not_grow_with_the_file(tmp_path):
    wanted = RS.read_text().splitlines()[0].encode() + b"\n"
    small = write_pushshift_zst(wanted + noisy_comments(10_000), tmp_path / "RC_small.zst")
    large_data = wanted + noisy_comments(50_000)
    large = write_pushshift_zst(large_data, tmp_path / "RC_large.zst")

    small_peak = peak_memory_of(lambda: list(iter_records(small)))
    records = []
    large_peak = peak_memory_of(lambda: records.extend(iter_records(large)))

    assert [r.external_id for r in records] == ["t3_wp1"]
    assert len(large_data) > 15_000_000
    assert large_peak < 1.5 * small_peak, (small_peak, large_peak)
    assert (
        large_peak < len(large_data) / 30
    ), f"peak {large_peak:,} bytes for {len(large_data):,} bytes"


# --- The real samples in ../shared/data ------------------------------------------------------------


def test_the_askwomen_submissions_are_all_reported_with_honest_reasons():
    needs(ASKWOMEN_ZST)
    raw = read_zst_lines(ASKWOMEN_ZST)
    expected = Counter()
    for post in raw:
        if post["selftext"].strip() == "[removed]":
            expected["submission_removed"] += 1
        elif post["selftext"].strip() == "[deleted]":
            expected["submission_deleted"] += 1
        elif post["score"] < 10:
            expected["submission_score_below_10"] += 1
        else:
            expected["no_top_level_comment"] += 1  # no comments file given

    records = list(iter_records(ASKWOMEN_ZST, subreddits=["AskWomen"]))

    assert len(records) == len(raw) == len({p["id"] for p in raw})
    assert Counter(r.reject_reason for r in records) == expected
    assert expected["no_top_level_comment"] > 0
    for record, post in zip(records[:50], raw[:50]):
        assert record.external_id == f"t3_{post['id']}"
        assert record.metadata["url"] == "https://www.reddit.com" + post["permalink"]
        assert record.metadata["author"] == post["author"]
        assert record.metadata["created_utc"] == post["created_utc"]
        assert record.metadata["score"] == post["score"]
        assert record.domain == "AskWomen"


def test_the_askwomen_submissions_as_prompt_only_test_records():
    needs(ASKWOMEN_ZST)
    raw = read_zst_lines(ASKWOMEN_ZST)
    kept = [
        p
        for p in raw
        if p["selftext"].strip() not in ("[removed]", "[deleted]") and p["score"] >= 10
    ]

    records = list(
        iter_records(ASKWOMEN_ZST, subreddits=["AskWomen"], prompt_only_subreddits=["AskWomen"])
    )

    accepted = [r for r in records if r.accepted]
    assert len(accepted) == len(kept)
    assert all(r.split == "test" and len(r.turns) == 1 for r in records)
    titles = [
        p["title"].replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">").strip()
        for p in kept
    ]
    assert [r.turns[0] for r in accepted] == titles


def test_a_file_of_two_frames_is_read_to_the_end(tmp_path):
    needs(ASKWOMEN_ZST)
    doubled = tmp_path / "RS_doubled.zst"
    doubled.write_bytes(ASKWOMEN_ZST.read_bytes() * 2)

    records = list(iter_records(doubled, subreddits=["AskWomen"]))

    # The second frame repeats the first: the same submissions, kept once.
    assert len(records) == len(read_zst_lines(ASKWOMEN_ZST))
    assert records[-1].location == f"RS_doubled.zst line {len(records)}"


def test_the_decompressed_first_500_lines_read_the_same_as_the_zst():
    needs(ASKWOMEN_FIRST_500)
    from_plain = list(iter_records(ASKWOMEN_FIRST_500, subreddits=["AskWomen"]))
    from_zst = list(iter_records(ASKWOMEN_ZST, subreddits=["AskWomen"]))[:500]

    assert len(from_plain) == 500
    assert [(r.external_id, r.turns, r.reject_reason, r.metadata) for r in from_plain] == [
        (r.external_id, r.turns, r.reject_reason, r.metadata) for r in from_zst
    ]


@pytest.mark.slow
def test_the_real_zst_is_streamed_not_read_whole(tmp_path):
    needs(ASKWOMEN_ZST)
    with open(ASKWOMEN_ZST, "rb") as f:
        decompressed = len(
            zstandard.ZstdDecompressor(max_window_size=2**31).stream_reader(f).read()
        )
    # The same frame twice over: a file twice as long, read in the same memory.
    doubled = tmp_path / "RS_doubled.zst"
    doubled.write_bytes(ASKWOMEN_ZST.read_bytes() * 2)

    def read_all(path):  # default subreddits: none kept, and the import fails at the end, saying so
        with pytest.raises(NoRecordMatched, match=r"the subreddits seen most: r/AskWomen \("):
            list(iter_records(path))

    once = peak_memory_of(lambda: read_all(ASKWOMEN_ZST))
    twice = peak_memory_of(lambda: read_all(doubled))

    assert twice < 1.5 * once, (once, twice)
    assert once < decompressed / 5, f"peak {once:,} bytes for {decompressed:,} bytes of data"


def test_real_comments_are_paired_with_the_best_usable_top_level_comment(tmp_path):
    needs(COMMENTS_ZST)
    comments = read_zst_lines(COMMENTS_ZST)
    links = sorted({c["link_id"][3:] for c in comments})
    submissions = tmp_path / "RS_2005-12.ndjson"
    submissions.write_text(
        "\n".join(
            json.dumps(
                {"id": link, "subreddit": "reddit.com", "title": f"Story {link}", "score": 100}
            )
            for link in links
        )
    )
    best, best_unusable = {}, {}
    for c in comments:
        if not c["parent_id"].startswith("t3_"):
            continue
        key = (-c["score"], c["created_utc"], int(c["id"], 36))
        link = c["parent_id"][3:]
        body = clean_markdown(c["body"].replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">"), "reddit")
        table = best_unusable if body.strip() in ("[deleted]", "[removed]", "") else best
        if link not in table or key < table[link][0]:
            table[link] = (key, c)

    records = by_id(
        iter_records(
            [COMMENTS_ZST, submissions], subreddits=["reddit.com"], min_comment_score=-(10**9)
        )
    )

    assert len(records) == len(links)
    reasons = Counter()
    for link in links:
        record = records[f"t3_{link}"]
        reasons[record.reject_reason] += 1
        if link in best:
            comment = best[link][1]
            assert record.accepted
            assert record.metadata["comment_id"] == comment["id"]
            assert record.metadata["comment_score"] == comment["score"]
            assert record.metadata["comment_author"] == comment["author"]
            assert record.metadata["comment_created_utc"] == comment["created_utc"]
            body = comment["body"].replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">")
            assert record.turns[1] == clean_markdown(body, "reddit")
        elif link in best_unusable:
            body = clean_markdown(best_unusable[link][1]["body"], "reddit")
            assert record.reject_reason == {
                "[deleted]": "comment_deleted",
                "[removed]": "comment_removed",
            }.get(body, "comment_empty")
        else:
            assert record.reject_reason == "no_top_level_comment"
    assert reasons[None] == len(best) and reasons["no_top_level_comment"] > 0


# --- fixtures/reddit/nested: folders, clean-up, subreddits that match nothing ---------------------

NESTED = FIXTURES / "nested"


def test_a_folder_is_read_with_its_sub_folders_and_without_hidden_ones():
    records = by_id(iter_records(NESTED, subreddits=["WritingPrompts"]))

    assert set(records) == {"t3_lh1", "t3_lh2"}  # .partial/ is not read; r/cats is not asked for
    assert records["t3_lh1"].metadata["comment_id"] == "s1"  # the comment is two folders down


def test_a_story_loses_its_links_images_urls_and_edit_notes_and_keeps_its_italics():
    story = by_id(iter_records(NESTED, subreddits=["WritingPrompts"]))["t3_lh1"]

    assert story.accepted
    assert story.turns[1] == (
        "The lamp had not turned in *forty years*, but that night it did.\n\n"
        "She climbed the stairs. The door was open & the sea was **loud**."
    )


def test_a_comment_that_is_only_a_link_is_no_answer_and_the_next_one_is():
    story = by_id(iter_records(NESTED, subreddits=["WritingPrompts"]))["t3_lh2"]

    assert story.metadata["comment_id"] == "s3"
    assert story.turns[1] == (
        "At noon the clocks stopped, and the town held its breath.\n\n[WP] Every clock in town stops at noon\n\n"
        "Nobody breathed out until the baker did."
    )


def test_subreddits_that_match_nothing_fail_the_import_naming_what_the_files_hold():
    with pytest.raises(NoRecordMatched) as error:
        list(iter_records(NESTED, subreddits=["WritingPromps", "AskRedit"]))

    assert str(error.value) == (
        f"{NESTED}: no submission or comment of r/AskRedit or r/WritingPromps in 2 file(s); the subreddits seen "
        "most: r/WritingPrompts (2 submissions), r/cats (1 submission). Check the subreddits option (names "
        "without r/, any case)."
    )


def test_a_subreddit_with_no_submission_is_a_warning_on_the_run():
    stats = Counter()

    records = list(iter_records(NESTED, subreddits=["WritingPrompts", "AskReddit"], stats=stats))

    assert len(records) == 2
    assert warnings_of(stats) == [
        "no submission of r/AskReddit in these files (submissions of r/WritingPrompts were read)."
    ]
    assert (stats["submissions_read"], stats["submissions_matched"], stats["comments_matched"]) == (3, 2, 3)


def test_comments_without_their_submissions_are_a_warning_on_the_run():
    stats = Counter()

    records = list(iter_records(NESTED / "2019" / "10", subreddits=["WritingPrompts"], stats=stats))

    assert records == []
    assert warnings_of(stats) == [
        "3 top-level comments of r/WritingPrompts were read but no submission: a record is made from a submission "
        "(its title), so add the RS_ file of the same month."
    ]


def test_deleted_submissions_can_be_kept_as_candidates():
    records = by_id(iter_records([RS, RC], skip_deleted_submissions=False))

    assert records["t3_wp4"].reject_reason != "submission_removed"
