"""Markdown -> sanitised HTML for every page that shows scraped or typed text (markdown-it-py, then nh3)."""
from functools import lru_cache

import nh3

_ALLOWED_TAGS = {
    "p", "br", "hr", "h1", "h2", "h3", "h4", "h5", "h6", "strong", "em", "del", "code", "pre",
    "blockquote", "ul", "ol", "li", "a", "img", "table", "thead", "tbody", "tr", "th", "td",
}
_ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "img": {"src", "alt", "title"}, "ol": {"start"}}


@lru_cache(maxsize=1)
def _renderer():
    from markdown_it import MarkdownIt

    # html=False: raw HTML in the Markdown is shown as text, never passed through.
    return MarkdownIt("commonmark", {"html": False}).enable(["table", "strikethrough"])


def render_markdown(text: str) -> str:
    """Markdown -> HTML safe to put in a page: no script, event handler or javascript: URL."""
    html = _renderer().render(text or "")
    return nh3.clean(
        html,
        tags=_ALLOWED_TAGS,
        attributes=_ALLOWED_ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow",
    )
