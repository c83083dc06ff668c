"""A PATCH or POST of an example with a NUL or a lone surrogate is a 400 naming the field, not PostgreSQL's 500."""
import pytest

from curation.services import create_example

pytestmark = pytest.mark.django_db


@pytest.fixture
def api(client_of, bob):
    return client_of(bob)


# Written as JSON escapes: "\\u0000" is a NUL once parsed, "\\ud800" a surrogate with no pair.
@pytest.mark.parametrize("body, field, message", [
    ('{"version": 1, "metadata": {"note": "a\\u0000b"}}', "metadata", "metadata.note: NUL characters are not allowed."),
    ('{"version": 1, "metadata": {"list": [1, {"x": "\\ud800"}]}}', "metadata",
     "metadata.list[1].x: lone surrogates are not allowed."),
    ('{"version": 1, "metadata": {"k\\u0000": 1}}', "metadata",
     "metadata: a key holds a NUL character or a lone surrogate, which are not allowed."),
])
def test_bad_characters_in_a_patch_are_a_400_naming_the_field(api, body, field, message):
    example = create_example(turns=["Old?", "Old."])
    response = api.patch(f"/api/examples/{example.pk}/", body, content_type="application/json")
    assert response.status_code == 400, response.content
    assert response.json()[field] == [message]
    example.refresh_from_db()
    assert example.version == 1


# DRF's CharField refuses these in text fields itself; the test holds it to that.
@pytest.mark.parametrize("body, field, message", [
    ('{"version": 1, "turns": [{"role": "user", "text": "a\\u0000"}, {"role": "assistant", "text": "b"}]}', "turns",
     "Null characters are not allowed."),
    ('{"version": 1, "turns": [{"role": "user", "text": "Hi?"}, {"role": "assistant", "text": "A\\ud800"}]}',
     "turns", "Surrogate characters are not allowed: U+D800."),
    ('{"version": 1, "domain": "cooking\\udc00"}', "domain", "Surrogate characters are not allowed: U+DC00."),
    ('{"version": 1, "tags": ["ok", "b\\u0000"]}', "tags", "Null characters are not allowed."),
])
def test_bad_characters_in_text_fields_are_refused_by_the_field(api, body, field, message):
    example = create_example(turns=["Old?", "Old."])
    response = api.patch(f"/api/examples/{example.pk}/", body, content_type="application/json")
    assert response.status_code == 400
    assert message in str(response.json()[field])
