"""Each example's signature (ExampleSignature), kept for the text it was computed from: computed for examples that
have none or whose text changed since (their content hash moved), never again for the others."""
import numpy as np
from django.db.models import F, Q

from curation.dedupe import minhash
from curation.dedupe.models import ExampleSignature
from curation.dedupe.text import exact_key, prompt_of, response_of
from curation.models import Example

CHUNK = 2000  # examples read, signed and written together


def stale_examples():
    """Examples without a signature of their current text."""
    return Example.objects.filter(Q(signature__isnull=True) | ~Q(signature__content_hash=F("content_hash")))


def _current_texts(pks):
    from curation.workspace.bulk import _current_texts

    return _current_texts(pks)


def sign(rows):
    """ExampleSignature rows (unsaved) for [(example id, content hash, turns)]."""
    prompts = [prompt_of(turns) for _, _, turns in rows]
    responses = [response_of(turns) for _, _, turns in rows]
    prompt_sigs, has_prompt = minhash.signatures(prompts, minhash.CHARS)
    response_sigs, has_response = minhash.signatures(responses, minhash.WORDS)
    return [
        ExampleSignature(
            example_id=pk, content_hash=digest, prompt_key=exact_key(prompt), response_key=exact_key(response),
            prompt_minhash=prompt_sigs[i].tobytes() if has_prompt[i] else None,
            response_minhash=response_sigs[i].tobytes() if has_response[i] else None,
        )
        for i, ((pk, digest, _), prompt, response) in enumerate(zip(rows, prompts, responses))
    ]


def save(signatures):
    ExampleSignature.objects.bulk_create(
        signatures, update_conflicts=True, unique_fields=["example"],
        update_fields=["content_hash", "prompt_key", "response_key", "prompt_minhash", "response_minhash",
                       "updated_at"],
    )


def update_stale(example_ids=None, on_progress=None):
    """Sign every example whose signature is missing or stale (of those in `example_ids`, when given); returns how
    many were signed. on_progress(done, total) after each chunk."""
    examples = stale_examples()
    if example_ids is not None:
        examples = examples.filter(pk__in=list(example_ids))
    todo = list(examples.order_by("pk").values_list("pk", "content_hash"))
    for start in range(0, len(todo), CHUNK):
        chunk = todo[start:start + CHUNK]
        texts = _current_texts([pk for pk, _ in chunk])
        save(sign([(pk, digest, texts[pk]) for pk, digest in chunk]))
        if on_progress is not None:
            on_progress(start + len(chunk), len(todo))
    return len(todo)


def load(example_ids=None):
    """(ids, prompt signatures, prompt mask, response signatures, response mask) of the stored signatures that are
    in step with their examples' text, as numpy arrays."""
    rows = ExampleSignature.objects.filter(content_hash=F("example__content_hash"))
    if example_ids is not None:
        rows = rows.filter(example_id__in=list(example_ids))
    rows = rows.order_by("example_id").values_list("example_id", "prompt_minhash", "response_minhash")
    ids, prompts, responses = [], [], []
    for pk, prompt, response in rows.iterator(chunk_size=5000):
        ids.append(pk)
        prompts.append(prompt)
        responses.append(response)
    return np.array(ids, dtype=np.int64), *_matrix(prompts), *_matrix(responses)


def _matrix(blobs):
    out = np.zeros((len(blobs), minhash.NUM_PERM), dtype=np.uint32)
    mask = np.zeros(len(blobs), dtype=bool)
    for i, blob in enumerate(blobs):
        if blob is not None:
            out[i] = np.frombuffer(bytes(blob), dtype=np.uint32)
            mask[i] = True
    return out, mask
