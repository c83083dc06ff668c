"""One fine-tuning job, top to bottom: config -> model -> data -> optimizer -> loop -> checkpoints.

Runs on one process (CPU or GPU) or under torchrun, on one host or several (see distributed.py);
progress goes to `emit` as events (progress.py prints them as JSON lines, README.md lists their
fields). The numbers are LIMA's, from recipe.py.
"""

import contextlib
import math
import time
from functools import partial
from pathlib import Path

import torch

from training.engine import chat, checkpoint, distributed, lora
from training.engine.config import RunConfig
from training.engine.data import (
    collate,
    collate_packed,
    encode_dataset,
    epoch_batches,
    file_sha256,
    micro_batches,
    packed_micro_batches,
    read_rows,
    trained_tokens,
)
from training.engine.dropout import add_residual_dropout, decoder_layers
from training.engine.loss import CausalLMLoss
from training.engine.optim import build_optimizer, build_scheduler
from training.engine.progress import Throughput, emit_json_line, finite, memory_mb
from training.engine.recipe import AUTO, SELECTIVE, from_overrides, resolve

# Settings that may differ between a run and its resumption (they change speed, not the maths).
_RESUMABLE_CHANGES = {"gradient_checkpointing", "bf16", "micro_batch_size", "length_grouping", "packing", "compile", "save_every_steps"}


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
    from transformers import AutoConfig, AutoTokenizer
    from transformers.utils import is_flash_attn_2_available
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()  # stderr is the job's log: keep it for warnings
    started = time.perf_counter()
    recipe = from_overrides(config.recipe)
    output_dir = Path(config.output_dir)
    resume_from = checkpoint.last_resume_point(output_dir) if config.resume else None
    if config.resume and resume_from is None:
        if checkpoint.checkpoint_path(output_dir, recipe.epochs) in checkpoint.list_checkpoints(output_dir):
            raise TrainingError(f"{output_dir} holds a finished run (its last epoch's checkpoint): choose another output_dir")
        say("warning", message=f"no resume point in {output_dir}; starting from the base model")
    if not config.resume and (checkpoint.list_checkpoints(output_dir) or checkpoint.list_resume_points(output_dir)):
        raise TrainingError(f"{output_dir} already holds checkpoints: resume the run, or choose another output_dir")

    # ---- model ----------------------------------------------------------------------------------
    torch.manual_seed(recipe.seed)  # new LoRA weights start the same on every rank and on resume
    on_gpu = context.device.type == "cuda"
    bf16_supported = on_gpu and torch.cuda.is_bf16_supported()
    # flash-attention computes in bf16/fp16 only: with fp32 compute the model keeps sdpa
    flash = on_gpu and is_flash_attn_2_available() and (recipe.bf16 is True or (recipe.bf16 == AUTO and bf16_supported))
    base_dtype = checkpoint.model_dtype(AutoConfig.from_pretrained(config.base_model))  # epoch checkpoints keep it
    tokenizer = AutoTokenizer.from_pretrained(config.base_model)
    model = distributed.load_model(config.base_model, tokenizer, context, "flash_attention_2" if flash else None)
    parameters = sum(p.numel() for p in model.parameters())
    recipe = resolve(recipe, parameters, on_gpu, bf16_supported=bf16_supported, varlen_attention=flash)
    dropout_by_layer = add_residual_dropout(model, recipe.residual_dropout)
    layers = decoder_layers(model)
    if recipe.gradient_checkpointing:
        _checkpoint_activations(model, selective=recipe.gradient_checkpointing == SELECTIVE)
    if recipe.compile:
        for layer in layers:
            layer.compile()  # per layer, as FSDP shards them; the loss and the rest stay eager
    peft_model = None
    if recipe.lora:
        distributed.materialise(model, context)
        peft_model = lora.apply_lora(model, recipe.lora_r, recipe.lora_alpha, recipe.lora_dropout, [tokenizer.convert_tokens_to_ids(t) for t in chat.SPECIAL_TOKENS])
        model = peft_model.get_base_model()  # the same modules, adapters injected in place
    loss_model = distributed.wrap(CausalLMLoss(model), context, layers, recipe.lora, recipe.bf16)  # and onto the device
    fused_loss = on_gpu and distributed.unwrap(loss_model).use_fused_loss()
    trainable = sum(p.numel() for p in loss_model.parameters() if p.requires_grad)

    # ---- data -----------------------------------------------------------------------------------
    dataset = encode_dataset(tokenizer, read_rows(config.data), recipe.max_length, recipe.overlong)
    examples = dataset.examples
    lengths = [len(example) for example in examples]
    trained_counts = [trained_tokens([example]) for example in examples]
    data_sha256 = file_sha256(config.data)
    steps_per_epoch = math.ceil(len(examples) / recipe.batch_size)
    total_steps = steps_per_epoch * recipe.epochs

    # ---- optimizer ------------------------------------------------------------------------------
    optimizer = build_optimizer(loss_model, recipe, context.device)
    scheduler = build_scheduler(optimizer, total_steps, recipe)
    recipe_info = {
        "recipe": recipe.to_dict(),
        "base_model": config.base_model,
        "data": config.data,
        "data_sha256": data_sha256,
        "residual_dropout_by_layer": dropout_by_layer,
    }

    step, start_epoch, done_in_epoch, epoch_loss, epoch_tokens = 0, 1, 0, 0.0, 0
    metrics = {"step": [], "epoch": [], "loss": [], "lr": [], "epoch_loss": []}
    if resume_from:
        saved = checkpoint.load_json(resume_from, "recipe.json")
        changed = sorted(k for k, v in recipe.to_dict().items() if saved["recipe"].get(k) != v and k not in _RESUMABLE_CHANGES)
        if changed:
            raise TrainingError(f"cannot resume from {resume_from}: the recipe differs in {', '.join(changed)}")
        if saved["data_sha256"] != data_sha256:
            raise TrainingError(f"cannot resume from {resume_from}: {config.data} is not the data it was trained on")
        state = distributed.resume_state(loss_model, optimizer, trainable_only=recipe.lora)
        trainer_state = checkpoint.load_resume_point(resume_from, state)
        distributed.load_resume_state(loss_model, optimizer, state, trainable_only=recipe.lora)
        scheduler.load_state_dict(trainer_state["scheduler"])
        step, start_epoch, done_in_epoch = trainer_state["step"], trainer_state["epoch"], trainer_state["steps_done_in_epoch"]
        epoch_loss, epoch_tokens = trainer_state["epoch_loss_sum"], trainer_state["epoch_tokens"]
        if done_in_epoch == steps_per_epoch:  # an epoch's end: the next one starts afresh
            start_epoch, done_in_epoch, epoch_loss, epoch_tokens = start_epoch + 1, 0, 0.0, 0
        metrics = checkpoint.load_json(resume_from, "metrics.json")

    say(
        "start",
        base_model=config.base_model,
        data=config.data,
        output_dir=str(output_dir),
        examples=len(examples),
        **dataset.report(),  # trimmed, dropped, ... per source; source_token_share
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
        model_dtype=str(base_dtype).removeprefix("torch."),
        fused_loss=fused_loss,
        recipe=recipe.to_dict(),
    )

    # ---- loop -----------------------------------------------------------------------------------
    pad_id = tokenizer.pad_token_id
    autocast = torch.autocast(context.device.type, dtype=torch.bfloat16) if recipe.bf16 and not distributed.is_fsdp(loss_model) else contextlib.nullcontext()
    throughput = Throughput(total_steps, step)
    checkpoints = [str(path) for path in checkpoint.list_checkpoints(output_dir)] if resume_from else []
    for epoch in range(start_epoch, recipe.epochs + 1):
        loss_model.train()
        batches = epoch_batches(len(examples), recipe.batch_size, recipe.seed, epoch)  # LIMA's mix in every step
        for index in range(done_in_epoch if epoch == start_epoch else 0, len(batches)):
            batch = batches[index]
            # Dropout masks depend only on (seed, step, rank): a resumed step draws what the first run drew.
            torch.manual_seed(recipe.seed * 100_003 + (step + 1) * 1_009 + context.rank)
            if recipe.packing:
                passes = packed_micro_batches(batch, lengths, recipe.micro_batch_size * recipe.max_length)
            else:
                passes = micro_batches(batch, recipe.micro_batch_size, lengths if recipe.length_grouping else None)
            # The loss is the mean over the whole batch's trained tokens, however it is split into
            # micro-batches and ranks, so accumulation gives the gradient of one big batch.
            batch_tokens = sum(trained_counts[i] for i in batch)
            share = _rank_share(passes, context)
            loss_sum = torch.zeros((), device=context.device)
            seen = torch.zeros(2, device=context.device)  # tokens, of which padding
            for number, (indices, weight) in enumerate(share):
                items = [examples[i] for i in indices]
                inputs = collate_packed(items) if recipe.packing else collate(items, pad_id)
                inputs = {k: v.to(context.device) for k, v in inputs.items()}
                with _accumulating(loss_model, last=number == len(share) - 1), autocast:
                    loss = loss_model(**inputs)  # summed over the pass's trained tokens
                # Data-parallel gradients are averaged over ranks; scale back up to a sum.
                (loss * (weight * context.world_size / batch_tokens)).backward()
                loss_sum += loss.detach() * weight
                real = sum(len(item) for item in items)
                seen += torch.tensor([inputs["input_ids"].numel(), inputs["input_ids"].numel() - real], device=context.device) * weight
            grad_norm = None
            if recipe.max_grad_norm > 0:
                norm = torch.nn.utils.clip_grad_norm_(loss_model.parameters(), recipe.max_grad_norm)
                grad_norm = float(norm.full_tensor() if hasattr(norm, "full_tensor") else norm)
            lr = scheduler.get_last_lr()[0]
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            step += 1

            total_loss, total_seen, total_padding = distributed.sum_across_ranks([loss_sum.item(), *seen.tolist()], context)
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
                **throughput.step(step, int(total_seen - total_padding), batch_tokens),
                padding_share=round(total_padding / total_seen, 4) if total_seen else 0.0,
                memory_mb=memory_mb(context.device),
            )
            if not math.isfinite(step_loss):
                raise TrainingError(f"the loss diverged at step {step} (epoch {epoch})")
            if recipe.save_every_steps and step % recipe.save_every_steps == 0 and index + 1 < len(batches):
                _save_resume_point(say, output_dir, loss_model, optimizer, scheduler, recipe, recipe_info, metrics, context, step, epoch, index + 1, epoch_loss, epoch_tokens)

        mean_loss = epoch_loss / epoch_tokens
        metrics["epoch_loss"].append(mean_loss)
        say("epoch_end", epoch=epoch, mean_loss=mean_loss, steps=step)
        if epoch < recipe.epochs:  # first, so that a crash while the epoch checkpoint is written loses nothing
            _save_resume_point(say, output_dir, loss_model, optimizer, scheduler, recipe, recipe_info, metrics, context, step, epoch, len(batches), epoch_loss, epoch_tokens)
        if epoch >= recipe.save_from_epoch or epoch == recipe.epochs:
            path = checkpoint.checkpoint_path(output_dir, epoch)
            state = _weights_state(loss_model, peft_model, model, recipe)
            info = {**recipe_info, "epoch": epoch, "step": step}
            checkpoint.save_weights(path, state, model.config, getattr(model, "generation_config", None), tokenizer, base_dtype, info, dict(metrics), context)
            checkpoints.append(str(path))
            say("checkpoint", epoch=epoch, step=step, path=str(path), bytes=checkpoint.folder_bytes(path), dtype=str(base_dtype).removeprefix("torch."))
        epoch_loss, epoch_tokens = 0.0, 0

    checkpoint.remove_resume_points(output_dir, context)
    done = {
        "output_dir": str(output_dir),
        "checkpoints": checkpoints,
        "loss": metrics["epoch_loss"],
        "steps": step,
        "elapsed_s": round(time.perf_counter() - started, 2),
    }
    say("done", **done)
    return done


def _checkpoint_activations(model, selective: bool) -> None:
    """Recompute each decoder layer's activations in backward (non-reentrant: it replays the RNG, so
    dropout masks match); selective: keep matmul and attention outputs, recompute the rest."""
    options = {"use_reentrant": False}
    if selective:
        from torch.utils.checkpoint import CheckpointPolicy, create_selective_checkpoint_contexts

        expensive = {torch.ops.aten.mm.default, torch.ops.aten.addmm.default, torch.ops.aten.bmm.default, torch.ops.aten._scaled_dot_product_flash_attention.default,
                     torch.ops.aten._scaled_dot_product_efficient_attention.default, torch.ops.aten._scaled_dot_product_flash_attention_for_cpu.default}

        def policy(ctx, op, *args, **kwargs):
            return CheckpointPolicy.MUST_SAVE if op in expensive else CheckpointPolicy.PREFER_RECOMPUTE

        options["context_fn"] = partial(create_selective_checkpoint_contexts, policy)
    if hasattr(model, "activation_checkpointing_enable"):  # transformers >= 5.2x names it so
        model.activation_checkpointing_enable(activation_checkpointing_kwargs=options)
    else:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs=options)


def _rank_share(passes: list[list[int]], context: distributed.Context) -> list[tuple[list[int], float]]:
    """This rank's forward passes with their weights. Every rank runs as many passes (collectives must
    match), so a rank short of data repeats the first pass with weight 0."""
    if not context.distributed:
        return [(indices, 1.0) for indices in passes]
    padded = passes + [None] * (-len(passes) % context.world_size)
    return [(indices, 1.0) if indices is not None else (passes[0], 0.0) for indices in padded[context.rank :: context.world_size]]


def _accumulating(model, last: bool):
    """Synchronise gradients across ranks only on the last micro-batch of a step."""
    if distributed.is_fsdp(model):
        model.set_requires_gradient_sync(last)
        return contextlib.nullcontext()
    if isinstance(model, torch.nn.parallel.DistributedDataParallel) and not last:
        return model.no_sync()
    return contextlib.nullcontext()


def _weights_state(loss_model, peft_model, model, recipe) -> dict:
    """This rank's part of the weights under the model's own names (LoRA: merged into the base)."""
    if recipe.lora:
        state = lora.merged_state(peft_model)
    else:
        prefix = "lm."  # CausalLMLoss holds the model as .lm
        state = {name.removeprefix(prefix): tensor for name, tensor in distributed.sharded_model_state(loss_model).items()}
    return checkpoint.without_tied_copy(model, state)


def _save_resume_point(say, output_dir, loss_model, optimizer, scheduler, recipe, recipe_info, metrics, context, step, epoch, steps_done_in_epoch, epoch_loss, epoch_tokens) -> None:
    trainer_state = {
        "step": step,
        "epoch": epoch,
        "steps_done_in_epoch": steps_done_in_epoch,
        "epoch_loss_sum": epoch_loss,  # the epoch's mean loss continues exactly after a mid-epoch resume
        "epoch_tokens": epoch_tokens,
        "scheduler": scheduler.state_dict(),
    }
    state = distributed.resume_state(loss_model, optimizer, trainable_only=recipe.lora)
    path = checkpoint.save_resume_point(output_dir, step, state, trainer_state, {**recipe_info, "epoch": epoch, "step": step}, dict(metrics), context)
    say("resume_point", epoch=epoch, step=step, path=str(path), bytes=checkpoint.folder_bytes(path))
