"""The conversation diff (pure): word-level changes inside lines, added and removed turns, folded context."""
from curation.workspace.diff import diff_conversations, field_changes


def test_identical_turns_are_marked_unchanged():
    [turn] = diff_conversations(["Same"], ["Same"])
    assert (turn.status, turn.lines) == ("same", [])


def test_a_changed_word_is_marked_inside_its_line():
    [_, answer] = diff_conversations(["Q", "Boil it for nine minutes."], ["Q", "Boil it for ten minutes."])
    removed, added = answer.lines
    assert (removed.kind, added.kind) == ("del", "add")
    assert ("del", "nine") in removed.parts and ("same", "Boil it for ") in removed.parts
    assert ("add", "ten") in added.parts
    assert (answer.added, answer.removed) == (1, 1)


def test_added_and_removed_turns():
    diffs = diff_conversations(["Q", "A"], ["Q", "A", "Q2", "A2"])
    assert [d.status for d in diffs] == ["same", "same", "added", "added"]
    assert [d.role for d in diffs] == ["user", "assistant", "user", "assistant"]
    assert diff_conversations(["Q", "A", "Q2", "A2"], ["Q", "A"])[3].status == "removed"


def test_long_unchanged_stretches_are_folded():
    old = "\n".join(f"line {n}" for n in range(20))
    new = old.replace("line 10", "line ten")
    [turn] = diff_conversations([old], [new])
    kinds = [line.kind for line in turn.lines]
    assert kinds == ["fold", "same", "same", "del", "add", "same", "same", "fold"]
    assert turn.lines[0].parts == [("same", "8 unchanged lines")]


def test_field_changes_list_what_changed_besides_the_text():
    changes = field_changes({"status": "candidate", "split": "train", "tags": []},
                            {"status": "approved", "split": "train", "tags": ["a", "b"]})
    assert [(c.name, c.old, c.new) for c in changes] == [("status", "candidate", "approved"), ("tags", "—", "a, b")]
