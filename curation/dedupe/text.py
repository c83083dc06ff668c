"""What two examples are compared on: the prompt (the user's turns) and the response (the assistant's), each
normalised. Pure Python, no Django."""
import hashlib
import re
import string

# Punctuation that may end or open a text without changing what it says ("Why?" = "why").
_END_PUNCTUATION = string.punctuation + "…«»“”‘’„¡¿·–—" + string.whitespace
_WORDS = re.compile(r"\w+")


def prompt_of(turns):
    """The user's turns of LIMA's flat list (user first), joined."""
    return "\n".join(turns[0::2])


def response_of(turns):
    return "\n".join(turns[1::2])


def normalise(text):
    """Casefolded, whitespace collapsed, punctuation stripped at both ends: what an exact duplicate shares."""
    return " ".join(text.casefold().split()).strip(_END_PUNCTUATION)


def exact_key(text):
    """sha256 of the normalised text, or "" for a text that normalises to nothing (no key, never a duplicate)."""
    normalised = normalise(text)
    return hashlib.sha256(normalised.encode("utf-8")).hexdigest() if normalised else ""


def words(text):
    """The words of a text, casefolded, punctuation dropped: near-duplicate shingles are made of these."""
    return _WORDS.findall(text.casefold())
