"""One fine-tuning job, top to bottom: config -> model -> data -> optimizer -> loop -> checkpoints.

Runs on one process (CPU or GPU) or under torchrun (see distributed.py); progress goes to `emit`
as events (progress.py prints them as JSON lines). The numbers are LIMA's, from recipe.py.
"""

import contextlib
import math
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from training.engine import chat, checkpoint, distributed, lora
from training.engine.config import RunConfig
from training.engine.data import (
    IGNORE_INDEX,
    collate,
    encode_examples,
    epoch_batches,
    file_sha256,
    micro_batches,
    read_conversations,
    trained_tokens,
)
from training.engine.dropout import add_residual_dropout, decoder_layers
from training.engine.optim import build_optimizer, build_scheduler
from training.engine.progress import Throughput, emit_json_line, finite, memory_mb
from training.engine.recipe import from_overrides, resolve

# Settings that may differ between a run and its resumption (they change speed, not the maths).
_RESUMABLE_CHANGES = {"gradient_checkpointing", "bf16", "micro_batch_size"}


class TrainingError(RuntimeError):
    pass


def train(config: RunConfig, emit=emit_json_line) -> dict:
    """Run the job; returns the payload of the "done" event."""
    context = distributed.setup()
    say = emit if context.is_main else (lambda event, **fields: None)
    try:
        return _train(config, context, say)
    finally:
        distributed.teardown(context)


def _train(config: RunConfig, context: distributed.Context, say) -> dict:
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()  # stderr is the job's log: keep it for warnings
    started = time.perf_counter()
    recipe = from_overrides(config.recipe)
    output_dir = Path(config.output_dir)
    resume_from = checkpoint.last_checkpoint(output_dir) if config.resume else None
    if config.resume and resume_from is None:
        say("warning", message=f"no checkpoint to resume from in {output_dir}; starting from the base model")
    if not config.resume and checkpoint.list_checkpoints(output_dir):
        raise TrainingError(f"{output_dir} already holds checkpoints: resume the run, or choose another output_dir")

    # ---- model ----------------------------------------------------------------------------------
    torch.manual_seed(recipe.seed)  # new embedding rows and LoRA weights start the same on every rank and resume
    # A full fine-tune resumes from the checkpoint's weights; LoRA from the base plus its saved adapter.
    source = str(resume_from) if resume_from and not recipe.lora else config.base_model
    tokenizer = AutoTokenizer.from_pretrained(source)
    model = AutoModelForCausalLM.from_pretrained(source, dtype=torch.float32)
    chat.add_chat_tokens(tokenizer, model)
    parameters = sum(p.numel() for p in model.parameters())
    on_gpu = context.device.type == "cuda"
    recipe = resolve(recipe, parameters, on_gpu, bf16_supported=on_gpu and torch.cuda.is_bf16_supported())
    dropout_by_layer = add_residual_dropout(model, recipe.residual_dropout)
    if recipe.gradient_checkpointing:
        # Non-reentrant checkpointing replays the saved RNG state, so recomputed dropout masks match.
        if hasattr(model, "activation_checkpointing_enable"):  # transformers >= 5.2x names it so
            model.activation_checkpointing_enable(activation_checkpointing_kwargs={"use_reentrant": False})
        else:
            model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    if recipe.lora:
        model = lora.apply_lora(model, recipe.lora_r, recipe.lora_alpha, recipe.lora_dropout, [tokenizer.convert_tokens_to_ids(t) for t in chat.SPECIAL_TOKENS])
    model = distributed.wrap(model, context, decoder_layers(model), recipe.lora, recipe.bf16)  # and onto the device
    inner = distributed.unwrap(model)  # the module itself, without DDP's wrapper
    trainable = sum(p.numel() for p in inner.parameters() if p.requires_grad)

    # ---- data -----------------------------------------------------------------------------------
    examples = encode_examples(tokenizer, read_conversations(config.data), recipe.max_length)
    lengths = [len(example) for example in examples]
    trained_counts = [trained_tokens([example]) for example in examples]
    data_sha256 = file_sha256(config.data)
    steps_per_epoch = math.ceil(len(examples) / recipe.batch_size)
    total_steps = steps_per_epoch * recipe.epochs

    # ---- optimizer ------------------------------------------------------------------------------
    optimizer = build_optimizer(model, recipe)
    scheduler = build_scheduler(optimizer, total_steps, recipe)

    step, start_epoch = 0, 1
    metrics = {"step": [], "epoch": [], "loss": [], "lr": [], "epoch_loss": []}
    if resume_from:
        saved = checkpoint.load_json(resume_from, "recipe.json")
        changed = sorted(k for k, v in recipe.to_dict().items() if saved["recipe"].get(k) != v and k not in _RESUMABLE_CHANGES)
        if changed:
            raise TrainingError(f"cannot resume from {resume_from}: the recipe differs in {', '.join(changed)}")
        if saved["data_sha256"] != data_sha256:
            raise TrainingError(f"cannot resume from {resume_from}: {config.data} is not the data it was trained on")
        state = checkpoint.load_trainer_state(resume_from)
        if recipe.lora:
            lora.load_trainable_state(inner, state["lora"])
        distributed.load_optimizer_state(model, optimizer, state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        step, start_epoch = state["step"], state["epoch"] + 1
        metrics = checkpoint.load_json(resume_from, "metrics.json")

    say(
        "start",
        base_model=config.base_model,
        data=config.data,
        output_dir=str(output_dir),
        examples=len(examples),
        trimmed=sum(example.trimmed for example in examples),
        epochs=recipe.epochs,
        steps_per_epoch=steps_per_epoch,
        total_steps=total_steps,
        start_step=step,
        resumed_from=str(resume_from) if resume_from else None,
        device=str(context.device),
        world_size=context.world_size,
        parameters=parameters,
        trainable_parameters=trainable,
        residual_dropout_by_layer=dropout_by_layer,
        recipe=recipe.to_dict(),
    )

    # ---- loop -----------------------------------------------------------------------------------
    pad_id = tokenizer.pad_token_id
    autocast = torch.autocast(context.device.type, dtype=torch.bfloat16) if recipe.bf16 and not distributed.is_fsdp(model) else contextlib.nullcontext()
    throughput = Throughput(total_steps, step)
    checkpoints = [str(path) for path in checkpoint.list_checkpoints(output_dir)] if resume_from else []
    for epoch in range(start_epoch, recipe.epochs + 1):
        # Dropout masks depend only on (seed, epoch, rank): a resumed epoch draws what the first run drew.
        torch.manual_seed(recipe.seed * 100_003 + epoch * 1_009 + context.rank)
        model.train()
        epoch_loss, epoch_tokens = 0.0, 0
        for batch in epoch_batches(lengths, recipe.batch_size, recipe.seed, epoch, recipe.length_grouping):
            # The loss is the mean over the whole batch's trained tokens, however it is split into
            # micro-batches and ranks, so accumulation gives the gradient of one big batch.
            batch_tokens = sum(trained_counts[i] for i in batch)
            share = _rank_share(micro_batches(batch, recipe.micro_batch_size), context)
            loss_sum = torch.zeros((), device=context.device)
            seen_tokens = torch.zeros((), device=context.device)
            for index, (indices, weight) in enumerate(share):
                inputs = {k: v.to(context.device) for k, v in collate([examples[i] for i in indices], pad_id).items()}
                with _accumulating(model, last=index == len(share) - 1), autocast:
                    logits = model(input_ids=inputs["input_ids"], attention_mask=inputs["attention_mask"], use_cache=False).logits  # (micro, seq, vocab)
                    loss = F.cross_entropy(
                        logits[:, :-1].flatten(0, 1).float(),  # (micro * (seq - 1), vocab): token t predicts t + 1
                        inputs["labels"][:, 1:].flatten(),
                        ignore_index=IGNORE_INDEX,
                        reduction="sum",
                    )
                # Data-parallel gradients are averaged over ranks; scale back up to a sum.
                (loss * (weight * context.world_size / batch_tokens)).backward()
                loss_sum += loss.detach() * weight
                seen_tokens += inputs["attention_mask"].sum() * weight
            grad_norm = None
            if recipe.max_grad_norm > 0:
                norm = torch.nn.utils.clip_grad_norm_(model.parameters(), recipe.max_grad_norm)
                grad_norm = float(norm.full_tensor() if hasattr(norm, "full_tensor") else norm)
            lr = scheduler.get_last_lr()[0]
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            step += 1

            total_loss, total_seen = distributed.sum_across_ranks([loss_sum.item(), seen_tokens.item()], context)
            step_loss = total_loss / batch_tokens
            epoch_loss += total_loss
            epoch_tokens += batch_tokens
            for key, value in (("step", step), ("epoch", epoch), ("loss", finite(step_loss)), ("lr", lr)):
                metrics[key].append(value)
            say(
                "step",
                step=step,
                total_steps=total_steps,
                epoch=epoch,
                loss=finite(step_loss),
                lr=lr,
                grad_norm=finite(grad_norm) if grad_norm is not None else None,
                examples=len(batch),
                trained_tokens=batch_tokens,
                **throughput.step(step, int(total_seen), batch_tokens),
                memory_mb=memory_mb(context.device),
            )
            if not math.isfinite(step_loss):
                raise TrainingError(f"the loss diverged at step {step} (epoch {epoch})")

        mean_loss = epoch_loss / epoch_tokens
        metrics["epoch_loss"].append(mean_loss)
        say("epoch_end", epoch=epoch, mean_loss=mean_loss, steps=step)
        if epoch >= recipe.save_from_epoch or epoch == recipe.epochs:
            path = _save(model, inner, optimizer, scheduler, tokenizer, recipe, config, context, metrics, epoch, step, data_sha256, dropout_by_layer)
            checkpoints.append(str(path))
            say("checkpoint", epoch=epoch, step=step, path=str(path))

    done = {
        "output_dir": str(output_dir),
        "checkpoints": checkpoints,
        "loss": metrics["epoch_loss"],
        "steps": step,
        "elapsed_s": round(time.perf_counter() - started, 2),
    }
    say("done", **done)
    return done


def _rank_share(micro: list[list[int]], context: distributed.Context) -> list[tuple[list[int], float]]:
    """This rank's micro-batches with their weights. Every rank runs as many passes (collectives must
    match), so a rank short of data repeats the first micro-batch with weight 0."""
    if not context.distributed:
        return [(indices, 1.0) for indices in micro]
    padded = micro + [None] * (-len(micro) % context.world_size)
    return [(indices, 1.0) if indices is not None else (micro[0], 0.0) for indices in padded[context.rank :: context.world_size]]


def _accumulating(model, last: bool):
    """Synchronise gradients across ranks only on the last micro-batch of a step."""
    if distributed.is_fsdp(model):
        model.set_requires_gradient_sync(last)
        return contextlib.nullcontext()
    if isinstance(model, torch.nn.parallel.DistributedDataParallel) and not last:
        return model.no_sync()
    return contextlib.nullcontext()


def _save(model, inner, optimizer, scheduler, tokenizer, recipe, config, context, metrics, epoch, step, data_sha256, dropout_by_layer) -> Path:
    """Gather the weights and optimizer state (all ranks), write the checkpoint (rank 0), then wait."""
    if recipe.lora:
        model_state = lora.merged_state(inner) if context.is_main else None
        base = inner.get_base_model()
    else:
        model_state = distributed.full_model_state(model)
        base = inner
    optimizer_state = distributed.full_optimizer_state(model, optimizer)
    path = checkpoint.checkpoint_path(config.output_dir, epoch)
    if context.is_main:
        recipe_info = {
            "recipe": recipe.to_dict(),
            "base_model": config.base_model,
            "data": config.data,
            "data_sha256": data_sha256,
            "epoch": epoch,
            "step": step,
            "residual_dropout_by_layer": dropout_by_layer,
        }
        trainer_state = {
            "epoch": epoch,
            "step": step,
            "optimizer": optimizer_state,
            "scheduler": scheduler.state_dict(),
            "lora": lora.trainable_state(inner) if recipe.lora else None,
            "rng": {"torch": torch.get_rng_state(), "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None},
        }
        checkpoint.save_checkpoint(path, base, model_state, tokenizer, recipe_info, dict(metrics), trainer_state)
    if context.distributed:
        torch.distributed.barrier()
    return path
