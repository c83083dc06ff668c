"""MinHash signatures of many texts at once, with numpy (pure, no Django).

A signature is NUM_PERM 32-bit values, each the minimum over the text's shingles of one hash function of the
multiply-shift family (h -> (a·h + b) >> 32 over 64-bit words, a odd; Dietzfelbinger et al., "A reliable
randomized algorithm for the closest-pair problem", 1997), which datasketch reads as its "affine32" scheme
(datasketch.LeanMinHash(seed=SEED, hashvalues=..., scheme="affine32")): the fraction of equal values of two
signatures estimates the Jaccard similarity of their shingle sets (Broder, "On the resemblance and containment
of documents", 1997). Computing them here rather than through datasketch.MinHash.update is what makes a pass
over 100k examples take seconds: the shingles of a whole batch of texts go through each hash function in one
numpy expression.

Shingles:
- responses: word 5-shingles (5 consecutive words); a one-word change touches 5 of a few hundred;
- prompts: character (byte) 5-grams of the words joined by single spaces, since prompts are often one short line
  where a changed word would change every word 5-shingle;
a text shorter than one shingle is one shingle of itself.
"""
import re
import zlib

import numpy as np

NUM_PERM = 128
SEED = 12  # the issue that asked for it; any fixed value, as long as every signature uses the same
SHINGLE = 5
WORDS, CHARS = "words", "chars"
# A prompt shorter than this is compared exactly only: "Question 12?" and "Question 13?", or "Write a haiku
# about cats." and "… about dogs.", share most character 5-grams and are different questions all the same.
SHORT_PROMPT_CHARS = 40

_rng = np.random.default_rng(SEED)
_A = _rng.integers(1, 2**63, size=NUM_PERM, dtype=np.uint64) * np.uint64(2) + np.uint64(1)  # odd
_B = _rng.integers(0, 2**63, size=NUM_PERM, dtype=np.uint64)
# Multipliers that combine the 5 tokens of a shingle into one 64-bit word (a polynomial hash).
_MIX = _rng.integers(1, 2**63, size=SHINGLE, dtype=np.uint64) * np.uint64(2) + np.uint64(1)
_SHIFT = np.uint64(32)
BATCH_SHINGLES = 64_000  # shingles hashed together: half a megabyte a hash function, in the caches (measured 25 % faster than 400k)


# Words as runs of ASCII letters, digits and _ or of any non-ASCII byte (UTF-8 letters stay inside their word),
# found in the UTF-8 bytes: a third faster than str's \w+ and the word hashes need bytes anyway.
_WORD_BYTES = re.compile(rb"[\w\x80-\xff]+")


def _tokens(text, shingles):
    """The text's tokens as uint64: crc32 of each word, or each byte of the words joined by single spaces (a
    character of ASCII text; the bytes of another are as telling). Case is folded in the bytes (ASCII only: two
    texts that differ in the case of an accented letter are rare, and a third of the time goes to str.casefold)."""
    found = _WORD_BYTES.findall(text.encode("utf-8").lower())
    if shingles == WORDS:
        return np.fromiter(map(zlib.crc32, found), dtype=np.uint64, count=len(found))
    return np.frombuffer(b" ".join(found), dtype=np.uint8).astype(np.uint64)


def _shingle_hashes(tokens):
    """One 64-bit word per shingle of `tokens` (SHINGLE consecutive tokens), finalised so every bit is mixed."""
    n = len(tokens)
    if n == 0:
        return tokens
    if n < SHINGLE:
        tokens = np.concatenate([tokens, np.zeros(SHINGLE - n, dtype=np.uint64)])
        n = SHINGLE
    count = n - SHINGLE + 1
    with np.errstate(over="ignore"):
        h = tokens[:count] * _MIX[0]
        for j in range(1, SHINGLE):
            h += tokens[j : j + count] * _MIX[j]
        # splitmix64's finaliser: the multiply-shift family wants its inputs' high bits to vary
        h ^= h >> np.uint64(30)
        h *= np.uint64(0xBF58476D1CE4E5B9)
        h ^= h >> np.uint64(27)
        h *= np.uint64(0x94D049BB133111EB)
        h ^= h >> np.uint64(31)
    return h  # a shingle seen twice changes no minimum: no need to make them unique


def signatures(texts, shingles):
    """(len(texts), NUM_PERM) uint32 signatures; a text without a word gets a row of zeros and False in the
    second value returned (a mask of the texts that have a signature)."""
    rows = np.zeros((len(texts), NUM_PERM), dtype=np.uint32)
    present = np.zeros(len(texts), dtype=bool)
    pending, indexes, size = [], [], 0
    for i, text in enumerate(texts):
        hashes = _shingle_hashes(_tokens(text, shingles))
        if not len(hashes):
            continue
        present[i] = True
        pending.append(hashes)
        indexes.append(i)
        size += len(hashes)
        if size >= BATCH_SHINGLES:
            rows[indexes] = _minimums(pending)
            pending, indexes, size = [], [], 0
    if pending:
        rows[indexes] = _minimums(pending)
    return rows, present


def _minimums(hash_lists):
    starts = np.cumsum([0] + [len(h) for h in hash_lists[:-1]])
    h = np.concatenate(hash_lists)
    out = np.empty((len(hash_lists), NUM_PERM), dtype=np.uint32)
    buffer = np.empty_like(h)
    with np.errstate(over="ignore"):
        for p in range(NUM_PERM):  # in place: one pass over the hashes per function, no temporaries
            np.multiply(h, _A[p], out=buffer)
            np.add(buffer, _B[p], out=buffer)
            np.right_shift(buffer, _SHIFT, out=buffer)
            out[:, p] = np.minimum.reduceat(buffer, starts)
    return out


def similarity(a, b):
    """Estimated Jaccard similarity of two signatures."""
    return float(np.count_nonzero(a == b)) / len(a)


def sign_conversations(rows):
    """[(id, content hash, turns)] -> [(id, content hash, prompt key, response key, prompt signature bytes or None,
    response signature bytes or None)]: what ExampleSignature stores. Pure, so a process pool can run it."""
    from curation.dedupe.text import exact_key, prompt_of, response_of

    prompts = [prompt_of(turns) for _, _, turns in rows]
    responses = [response_of(turns) for _, _, turns in rows]
    prompt_keys = [exact_key(prompt) for prompt in prompts]
    prompt_sigs, has_prompt = signatures(prompts, CHARS)
    short = [i for i, prompt in enumerate(prompts) if has_prompt[i] and len(" ".join(prompt.split())) < SHORT_PROMPT_CHARS]
    if short:  # signed by their exact key, one token: equal to another's only when the prompts are the same
        prompt_sigs[short], _ = signatures([prompt_keys[i] for i in short], WORDS)
    response_sigs, has_response = signatures(responses, WORDS)
    return [
        (pk, digest, prompt_keys[i], exact_key(response),
         prompt_sigs[i].tobytes() if has_prompt[i] else None, response_sigs[i].tobytes() if has_response[i] else None)
        for i, ((pk, digest, _), response) in enumerate(zip(rows, responses))
    ]
