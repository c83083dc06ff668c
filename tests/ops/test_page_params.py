"""Every page and every API endpoint answers a wrong query parameter with 400 or ignores it; none answers 500.

Each page and each GET of the API is asked, as an admin, with every parameter its view module reads set to values of the wrong type
(words for ids, numbers beyond any id, digits that are not ASCII, negative and fractional numbers), one at a time
and all at once."""
import inspect
import re
import sys
from dataclasses import fields

import pytest
from django.urls import URLResolver, get_resolver

from curation.datasets.versions import freeze_version
from curation.services import create_example
from curation.workspace.queue import QueueFilters
from curation.workspace.table import TableFilters

pytestmark = pytest.mark.django_db

WRONG = ["abc", "²", "-1", "99999999999999999999", "1.5", "1,abc,²", " ", "0x10"]
ONE_AT_A_TIME = ["abc", "²", "99999999999999999999"]
NAMES = re.compile(r"""(?:GET|query_params|query)\.(?:get|getlist)\(\s*["'](\w+)["']""")
PAGINATION = ["limit", "offset", "page", "cursor", "ordering", "format"]
FILTERS = [spec.name for cls in (QueueFilters, TableFilters) for spec in fields(cls) if spec.name != "extra"]


def _pages(patterns=None, prefix=""):
    for pattern in get_resolver().url_patterns if patterns is None else patterns:
        if isinstance(pattern, URLResolver):
            yield from _pages(pattern.url_patterns, prefix + str(pattern.pattern))
        elif not (prefix + str(pattern.pattern)).startswith(("admin/", "accounts/", "api/schema", "api/docs", "api/auth")):
            yield prefix + str(pattern.pattern), pattern.callback


def _names(view):
    owner = getattr(view, "cls", view)  # a DRF viewset's methods live in its class's module
    module = sys.modules[getattr(owner, "__module__", "")]
    source = inspect.getsource(module)
    names = set(NAMES.findall(source))
    if hasattr(view, "cls"):
        names |= set(PAGINATION)
    if "from_query" in source:
        names |= set(FILTERS)
    return sorted(names)


@pytest.fixture
def objects(alice):
    example = create_example(turns=["Seed prompt?", "Seed answer."], split="train", status="approved")
    create_example(turns=["A test prompt", "An answer."], split="test", status="approved")
    version = freeze_version("seed").version
    return {"examples": example.pk, "review": example.pk, "datasets": version.pk}


def _url(pattern, objects):
    pk = objects.get(pattern.removeprefix("api/").lstrip("^").split("/")[0], 1)
    url = re.sub(r"\^|\$|\\\.\(\?P<format>\[a-z0-9\]\+\)/\?", "", pattern)  # a router's regex, without its format suffix
    if "(?P<format>" in url:
        return None
    url = re.sub(r"\(\?P<pk>[^)]*\)|<int:pk>", str(pk), url)
    url = re.sub(r"\(\?P<\w+>[^)]*\)", "1", url)
    url = re.sub(r"<str:label>", "import", url)
    return "/" + re.sub(r"<int:\w+>", "1", url)


def test_no_page_answers_500_to_a_wrong_parameter(client_of, alice, objects):
    client = client_of(alice)
    client.raise_request_exception = False  # a 500 is collected, not raised
    failures = []
    for pattern, view in _pages():
        url = _url(pattern, objects)
        if url is None:
            continue
        names = _names(view)
        queries = [{name: value for name in names} for value in WRONG]
        # One at a time: the names this view's module reads (pagination's are tried all at once only).
        queries += [{name: value} for name in names if name not in PAGINATION for value in ONE_AT_A_TIME]
        for query in queries:
            response = client.get(url, query)
            if response.status_code >= 500:
                failures.append(f"{url}?{'&'.join(f'{k}={v}' for k, v in query.items())} -> {response.status_code}")
    print("\n".join(failures))
    assert failures == []
