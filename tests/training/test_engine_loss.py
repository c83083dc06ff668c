"""The training loss: chunked cross-entropy equals the full one with its gradients; packing changes no example's loss."""

import pytest
import torch
import torch.nn.functional as F
from transformers import AutoModelForCausalLM

from training.engine.data import IGNORE_INDEX, collate, collate_packed, encode_example
from training.engine.loss import CausalLMLoss, chunked_cross_entropy

CHATS = [
    ["What is tea?", "Tea is a drink made from leaves."],
    ["Hello there", "Hi! How can I help you today?", "Tell me a joke", "Why did the chicken cross the road? To get to the other side."],
    ["How do I boil an egg?", "Put the egg in cold water, bring it to a boil, then simmer for nine minutes."],
]


def test_chunked_cross_entropy_equals_the_full_loss_and_its_gradients():
    torch.manual_seed(0)
    output = torch.nn.Linear(16, 300, bias=False)
    hidden = torch.randn(2500, 16, requires_grad=True)
    targets = torch.randint(0, 300, (2500,))

    full = F.cross_entropy(output(hidden).float(), targets, reduction="sum")
    full_grads = torch.autograd.grad(full, [hidden, output.weight])
    chunked = chunked_cross_entropy(hidden, targets, output, chunk_tokens=512)  # 5 chunks, the last one short
    chunked_grads = torch.autograd.grad(chunked, [hidden, output.weight])

    torch.testing.assert_close(chunked, full)
    torch.testing.assert_close(chunked_grads, full_grads)


def test_chunks_hold_their_logits_only_until_backward_recomputes_them():
    torch.manual_seed(0)
    output = torch.nn.Linear(16, 3000, bias=False)
    hidden = torch.randn(4096, 16, requires_grad=True)
    targets = torch.randint(0, 3000, (4096,))
    saved = []
    with torch.autograd.graph.saved_tensors_hooks(lambda t: saved.append(t.numel()) or t, lambda t: t):
        chunked_cross_entropy(hidden, targets, output, chunk_tokens=512)
    assert max(saved) < 4096 * 3000 / 4  # never the (tokens, vocab) logits of the whole batch


def test_the_wrapped_model_sums_the_same_loss_as_transformers_over_the_trained_tokens(tiny_model_dir, tokenizer):
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    batch = collate([encode_example(tokenizer, turns, 2048) for turns in CHATS], tokenizer.pad_token_id)
    trained = int((batch["labels"][:, 1:] != IGNORE_INDEX).sum())
    with torch.no_grad():
        ours = CausalLMLoss(model, chunk_tokens=16)(**batch)
        theirs = model(**batch).loss * trained  # transformers' mean over the same tokens
    torch.testing.assert_close(ours, theirs)


@pytest.mark.parametrize("attention", ["sdpa", "eager"])
def test_per_example_losses_are_the_same_packed_as_unpacked(tiny_model_dir, tokenizer, attention):
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir, attn_implementation=attention)
    examples = [encode_example(tokenizer, turns, 2048) for turns in CHATS]

    def token_losses(inputs):  # (tokens,) loss of each position that predicts a label
        logits = model(**{k: v for k, v in inputs.items() if k != "labels"}, use_cache=False).logits[0, :-1]
        return F.cross_entropy(logits.float(), inputs["labels"][0, 1:], ignore_index=IGNORE_INDEX, reduction="none")

    with torch.no_grad():
        alone = [token_losses(collate([e], tokenizer.pad_token_id)).sum() for e in examples]
        packed = token_losses(collate_packed(examples))
    ends = torch.tensor([len(e) for e in examples]).cumsum(0).tolist()
    per_example = [packed[start : end - 1].sum() for start, end in zip([0, *ends[:-1]], ends)]
    torch.testing.assert_close(per_example, alone, rtol=1e-5, atol=1e-5)
    # and no loss across a boundary: the token after one example's end predicts nothing
    assert all(packed[end - 1] == 0 for end in ends[:-1])


def test_attention_does_not_cross_examples_in_a_packed_row(tiny_model_dir, tokenizer):
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    first, second = (encode_example(tokenizer, turns, 2048) for turns in CHATS[:2])
    other = encode_example(tokenizer, CHATS[2], 2048)
    with torch.no_grad():
        # use_cache=False: transformers reads packed positions only without a KV cache (as in training)
        a = model(**{k: v for k, v in collate_packed([first, second]).items() if k != "labels"}, use_cache=False).logits
        b = model(**{k: v for k, v in collate_packed([other, second]).items() if k != "labels"}, use_cache=False).logits
    # the second example's logits do not depend on what was packed before it
    torch.testing.assert_close(a[0, len(first) :], b[0, len(other) :], rtol=1e-5, atol=1e-5)
