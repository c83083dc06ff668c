"""Each example's signature (ExampleSignature), kept for the text it was computed from: computed for examples that
have none or whose text changed since (their content hash moved), never again for the others."""
import multiprocessing
from collections import deque
from concurrent.futures import ProcessPoolExecutor

import numpy as np
from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from curation.dedupe import minhash
from curation.dedupe.models import ExampleSignature
from curation.models import Example
from curation.services import current_texts

CHUNK = 2000  # examples read, signed and written together


def stale_examples():
    """Examples without a signature of their current text."""
    return Example.objects.filter(Q(signature__isnull=True) | ~Q(signature__content_hash=F("content_hash")))


def save(signed):
    """Store sign_conversations' rows in place of the examples' signatures: on PostgreSQL the old rows deleted and
    the new ones sent with COPY (4x faster than Django's upsert of 1,000 rows at a time: 15 s of a first pass over
    100k examples), elsewhere in upserts."""
    if connection.vendor != "postgresql":
        ExampleSignature.objects.bulk_create(
            [ExampleSignature(example_id=pk, content_hash=digest, prompt_key=prompt_key, response_key=response_key,
                              prompt_minhash=prompt_sig, response_minhash=response_sig)
             for pk, digest, prompt_key, response_key, prompt_sig, response_sig in signed],
            update_conflicts=True, unique_fields=["example"], batch_size=1000,
            update_fields=["content_hash", "prompt_key", "response_key", "prompt_minhash", "response_minhash",
                           "updated_at"],
        )
        return
    now = timezone.now()
    with transaction.atomic():
        ExampleSignature.objects.filter(example_id__in=[row[0] for row in signed]).delete()
        with connection.cursor() as cursor, cursor.cursor.copy(_COPY) as copy:
            for row in signed:
                copy.write_row((*row, now))


_COPY = (f"COPY {ExampleSignature._meta.db_table} (example_id, content_hash, prompt_key, response_key, "
         "prompt_minhash, response_minhash, updated_at) FROM STDIN")


def update_stale(example_ids=None, on_progress=None):
    """Sign every example whose signature is missing or stale (of those in `example_ids`, when given); returns how
    many were signed. on_progress(done, total) after each chunk.

    Many examples (a first pass, a big import) are signed by settings.DEDUPE_PROCESSES processes while this one
    reads the next chunks and writes the signatures; a few, here."""
    examples = stale_examples()
    if example_ids is not None:
        examples = examples.filter(pk__in=list(example_ids))
    todo = list(examples.order_by("pk").values_list("pk", "content_hash"))
    chunks = [todo[start:start + CHUNK] for start in range(0, len(todo), CHUNK)]

    def rows(chunk):
        texts = current_texts([pk for pk, _ in chunk])
        return [(pk, digest, texts[pk]) for pk, digest in chunk]

    processes = settings.DEDUPE_PROCESSES
    pool = None
    if processes > 1 and len(chunks) > 1 and not multiprocessing.current_process().daemon:
        # spawn: the children import the pure signing modules only, never Django or its connections
        pool = ProcessPoolExecutor(processes, mp_context=multiprocessing.get_context("spawn"))
    try:
        pending, done = deque(), 0
        for chunk in chunks:
            pending.append(pool.submit(minhash.sign_conversations, rows(chunk)) if pool else rows(chunk))
            while pending and (pool is None or len(pending) > processes):
                done += _save_signed(pending.popleft(), pool)
                _report(on_progress, done, len(todo))
        while pending:
            done += _save_signed(pending.popleft(), pool)
            _report(on_progress, done, len(todo))
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)
    return len(todo)


def _save_signed(item, pool):
    signed = item.result() if pool is not None else minhash.sign_conversations(item)
    save(signed)
    return len(signed)


def _report(on_progress, done, total):
    if on_progress is not None:
        on_progress(done, total)


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
