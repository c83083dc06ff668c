"""A source kind is one module: a parser declaring itself (curation.sources.plugins) is imported, named, sampled,
grouped on the dashboard and offered by the pages with no other edit. This module is such a source."""
import pytest

from curation.imports.ingest import start_import
from curation.models import Example, Source
from curation.sources import plugins
from curation.sources.plugins import SourceKind, register
from curation.sources.records import Record, SourceFormatError
from curation.workspace.figures import bucket_of


def iter_records(path, *, seed=0, stats=None, min_words: int = 1):
    """'question | answer' lines: the smallest source there is."""
    with open(path, encoding="utf-8") as lines:
        for number, line in enumerate(lines, 1):
            if "|" not in line:
                raise SourceFormatError(path, f"line {number}", "expected 'question | answer'")
            question, answer = (part.strip() for part in line.split("|", 1))
            reason = "too_few_words" if len(answer.split()) < min_words else None
            yield Record(f"line-{number}", [question, answer], domain="faq", reject_reason=reason,
                         location=f"{path} line {number}")


@pytest.fixture
def faq_source():
    source = register(SourceKind(kind="faq", label="FAQ lines", parser=__name__, targets=None, fixed_name="The FAQ",
                                 buckets={"faq": ("FAQ", 65)}))
    yield source
    plugins.REGISTRY.pop("faq")


@pytest.mark.django_db
def test_a_source_declared_in_its_own_module_imports_with_no_other_edit(faq_source, tmp_path, client_of, alice):
    path = tmp_path / "faq.txt"
    path.write_text("How do I reset it? | Hold the button for ten seconds.\nWhy? | Because.\n")

    run = start_import("faq", path, options={"min_words": 2}, run_async=False)

    assert run.status == "succeeded", run.error
    assert (run.source.kind, run.source.name, run.source.get_kind_display()) == ("faq", "The FAQ", "FAQ lines")
    assert run.created_count == 1 and run.rejected_by_reason == {"too_few_words": 1}
    assert bucket_of("faq") == "faq" and list(plugins.buckets()).index("faq") < list(plugins.buckets()).index("other")
    assert "FAQ lines" in client_of(alice).get("/imports/").content.decode()  # the upload form offers it
    assert "FAQ" in client_of(alice).get("/dashboard/").content.decode()
    assert Example.objects.get().source == Source.objects.get(kind="faq")


@pytest.mark.django_db
def test_an_unknown_option_of_a_plugin_is_refused_naming_its_options(faq_source, tmp_path):
    from curation.imports.ingest import ImportOptionError

    with pytest.raises(ImportOptionError, match="min_words"):
        start_import("faq", tmp_path, options={"min_wrods": 2}, run_async=False)


def test_the_built_in_kinds_declare_themselves():
    kinds = {source.kind: source for source in plugins.all_kinds()}
    assert {"stackexchange", "wikihow", "reddit", "natural_instructions", "jsonl", "manual"} <= set(kinds)
    assert not kinds["manual"].importable and kinds["stackexchange"].passes == 2
    assert list(plugins.buckets())[:3] == ["se_stem", "se_other", "wikihow"]
