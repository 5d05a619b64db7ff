"""LoRA / QLoRA fine-tuning of a transformers causal LM with PEFT, the engine's training semantics:

- loss of an optimizer step = sum of token cross-entropies over all its micro-batches / their target count
  (engine/src/train/trainer.ts), so batch size, gradient accumulation and the number of processes change
  nothing but speed;
- AdamW (betas 0.9/0.999, eps 1e-8, the spec's weight decay), global-norm clipping, the job spec's schedule
  (Hugging Face's get_scheduler formulas, engine/src/train/schedule.ts) with warmup = ceil(ratio x steps);
- eval loss (token mean over the eval records, no dropout) before training and after the last step;
- a checkpoint every K optimizer steps and after the last one; a resumed run continues bit for bit.
Several processes (torchrun): DistributedDataParallel over gloo (CPU) or NCCL (CUDA). Each micro-batch of
`batchSize` rows is split between the processes (rank r takes rows r, r+W, ...), every process scales its
loss by W / (global target count), so DDP's gradient average is the one-process gradient: the same global
batch gives the same loss curve.
With `distributed: "fsdp"` (torch FSDP2, `fully_shard` on every decoder layer and the root) the base and the adapter
are sharded between the processes instead of replicated; rows, loss scaling and the gradient average are the DDP
ones, so the loss curve is the same; checkpoints and the adapter are gathered into the one-process layout.
"""
import json
import math
import os
import time

from . import checkpoint
from .data import DataError, RecordEncoder, collate, count_targets, plan, read_records, trainable

# the training run's format (checkpoint compatibility, metrics engineVersion): unchanged since worker protocol 1
PROTOCOL = 1


class SpecError(ValueError):
    """The job cannot be trained as asked (not transient)."""


def model_and_adapter(msg, command, keys, adapter_hint=""):
    """A command's base model and adapter folders, after checking that `msg` has `keys` and both folders hold
    what they must (SpecError says which is missing)."""
    for k in keys:
        if k not in msg:
            raise SpecError(f"{command} message lacks {k}")
    model_dir, adapter_dir = msg["model_dir"], msg["adapter_dir"]
    if not os.path.isfile(os.path.join(model_dir, "config.json")):
        raise SpecError(f"{model_dir} is not a model folder (no config.json)")
    if not os.path.isfile(os.path.join(adapter_dir, "adapter_config.json")):
        raise SpecError(f"{adapter_dir} holds no adapter (no adapter_config.json){adapter_hint}")
    return model_dir, adapter_dir


class Dist:
    """This process's place in a torchrun launch (one process: rank 0 of 1, no communication)."""

    def __init__(self):
        self.world = int(os.environ.get("WORLD_SIZE", "1"))
        self.rank = int(os.environ.get("RANK", "0"))
        self.local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        self.group = None

    def init(self, device_type):
        if self.world > 1:
            import torch.distributed as d

            d.init_process_group("nccl" if device_type == "cuda" else "gloo")
            self.group = d

    def barrier(self):
        if self.group:
            self.group.barrier()

    def all_sum(self, values):
        """Sum of a list of floats over all processes."""
        if not self.group:
            return values
        import torch

        t = torch.tensor(values, dtype=torch.float64)
        self.group.all_reduce(t)
        return t.tolist()

    def close(self):
        if self.group:
            self.group.destroy_process_group()


def learning_rate(step, kind, lr, warmup, total):
    if step < warmup:
        return lr * step / max(1, warmup)
    if kind == "constant":
        return lr
    progress = (step - warmup) / max(1, total - warmup)
    if kind == "linear":
        return lr * max(0.0, 1 - progress)
    return lr * max(0.0, 0.5 * (1 + math.cos(math.pi * progress)))


def choose_precision(asked, device_type, torch):
    if asked == "auto":
        if device_type == "cuda":
            return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
        return "fp32"
    if asked == "fp16" and device_type != "cuda":
        raise SpecError("fp16 training needs a CUDA device; use fp32 (or bf16) on the CPU")
    if asked == "bf16" and device_type == "cuda" and not torch.cuda.is_bf16_supported():
        raise SpecError("this GPU does not support bf16; use fp16 or fp32")
    return asked


def fingerprint(examples):
    import hashlib

    h = hashlib.sha256()
    for ids, flags in examples:
        h.update(json.dumps([ids, [int(f) for f in flags]]).encode())
    return f"{len(examples)}:{h.hexdigest()[:16]}"


def lora_targets(spec_targets):
    if spec_targets == ["all-linear"] or spec_targets == "all-linear":
        return "all-linear"
    if "all-linear" in spec_targets:
        raise SpecError('"all-linear" cannot be combined with other target modules')
    return list(spec_targets)


def eval_sums(model, examples, batch_size, pad_id, device, autocast, shard=None, fsdp=False):
    """(sum of the target-token losses, target count) of `examples` in batches of `batch_size` rows, no gradients: the
    one definition of the held-out eval loss (its mean), shared by training (after its last step) and the `evaluate`
    command a verifier runs. The caller puts the model in eval mode (no dropout). With several processes `shard`
    picks this process's rows of each batch (the caller sums over processes); under FSDP every process runs every
    forward (its all-gathers), one without rows weighted 0."""
    import torch

    loss_sum, count = 0.0, 0
    with torch.no_grad():
        for i in range(0, len(examples), batch_size):
            all_rows = list(range(i, min(len(examples), i + batch_size)))
            rows = shard(all_rows) if shard else all_rows
            if not rows and not fsdp:
                continue
            ids, mask, tgt = collate(examples, rows or all_rows[:1], pad_id, device)
            with autocast:
                logits = model(input_ids=ids, attention_mask=mask).logits[:, :-1]
            if rows:
                loss_sum += torch.nn.functional.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), tgt.reshape(-1), ignore_index=-100, reduction="sum").item()
                count += int((tgt >= 0).sum())
    return loss_sum, count


def run(msg, emit, stop, dist):
    """Trains the `train` message's job; emits started/progress/checkpoint events; returns the done event."""
    import torch
    import transformers
    import peft
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    spec = msg["spec"]
    lora = spec.get("lora", {})
    t = spec.get("training", {})
    method = spec.get("method", "lora")
    if method not in ("lora", "qlora"):
        raise SpecError(f"method {method!r} is not one the torch worker trains (lora, qlora)")
    model_dir, out_dir = msg["model_dir"], msg["out_dir"]
    if not os.path.isfile(os.path.join(model_dir, "config.json")):
        raise SpecError(f"{model_dir} is not a model folder (no config.json)")
    epochs = float(t.get("epochs", 3))
    batch_size = int(t.get("batchSize", 4))
    accum = int(t.get("gradientAccumulation", 1))
    max_len = int(t.get("maxSeqLength", 1024))
    lr = float(t.get("learningRate", 2e-4))
    seed = int(t.get("seed", 42))
    if batch_size < dist.world:
        raise SpecError(f"batchSize {batch_size} is smaller than the {dist.world} processes; each process needs a row of every micro-batch")

    device_type = "cuda" if torch.cuda.is_available() and msg.get("device", "auto") != "cpu" else "cpu"
    if msg.get("device") == "cuda" and device_type != "cuda":
        raise SpecError("device cuda was asked for but torch sees no CUDA device")
    device = torch.device(f"cuda:{dist.local_rank}" if device_type == "cuda" else "cpu")
    if device_type == "cuda":
        torch.cuda.set_device(device)
        torch.cuda.reset_peak_memory_stats(device)
    if msg.get("threads"):
        torch.set_num_threads(int(msg["threads"]))
    dist.init(device_type)
    precision = choose_precision(msg.get("precision", "auto"), device_type, torch)
    dtype = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}[precision]

    enc = RecordEncoder(model_dir)
    train_ex = trainable([enc.encode_record(r) for r in read_records(msg["train_file"])], max_len)
    eval_ex = trainable([enc.encode_record(r) for r in read_records(msg["eval_file"])], max_len) if msg.get("eval_file") else []
    pad_id = enc.tok.pad_token_id if enc.tok.pad_token_id is not None else (enc.eos_id or 0)

    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=dtype if method == "lora" else torch.float32)
    if method == "qlora":
        from .nf4 import quantize_model

        quantize_model(model, dtype)
    model.to(device)
    if msg.get("gradient_checkpointing"):
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    model.config.use_cache = False
    targets = lora_targets(lora.get("targetModules", ["q_proj", "v_proj"]))
    cfg = LoraConfig(r=int(lora.get("r", 8)), lora_alpha=float(lora.get("alpha", 16)), lora_dropout=float(lora.get("dropout", 0.05)),
                     target_modules=targets, use_rslora=bool(lora.get("rslora", False)), task_type="CAUSAL_LM", bias="none")
    torch.manual_seed(seed)  # the LoRA init depends on the seed only
    try:
        model = get_peft_model(model, cfg)
    except ValueError as e:
        raise SpecError(f"LoRA target modules {targets} do not fit this model: {e}") from None
    for p in model.parameters():
        if p.requires_grad:
            p.data = p.data.float()  # LoRA weights train in fp32 whatever the base's dtype
    core = model
    mode = msg.get("distributed", "ddp")
    if mode not in ("ddp", "fsdp"):
        raise SpecError(f"distributed {mode!r} is not ddp or fsdp")
    fsdp = mode == "fsdp" and dist.world > 1
    if fsdp:
        shard_model(core, device_type, dist.world)
    elif dist.world > 1:
        from torch.nn.parallel import DistributedDataParallel

        model = DistributedDataParallel(model, device_ids=[device.index] if device_type == "cuda" else None)
    # (after sharding: FSDP replaces the parameters with sharded ones)
    params = {n: p for n, p in core.named_parameters() if p.requires_grad}

    batches = plan(len(train_ex), batch_size, epochs, seed)
    total = math.ceil(len(batches) / accum)
    warmup = math.ceil(float(t.get("warmupRatio", 0.1)) * total)
    kind = t.get("scheduler", "cosine")
    optimizer = torch.optim.AdamW(list(params.values()), lr=lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=float(t.get("weightDecay", 0.0)))
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: learning_rate(s, kind, lr, warmup, total) / lr)
    max_norm = float(t.get("maxGradNorm", 1.0))
    every = int(msg.get("checkpoint_every", 10))
    eval_every = int(msg.get("eval_every", 0))
    ckpt_dir = os.path.join(out_dir, "checkpoints")
    run_cfg = json.loads(json.dumps({"method": method, "lora": lora, "training": t, "precision": precision, "data": fingerprint(train_ex), "evalData": fingerprint(eval_ex), "protocol": PROTOCOL}))
    state = {"step": 0, "microStep": 0, "tokens": 0, "seconds": 0.0, "lossHistory": [], "evalHistory": [], "run": run_cfg}
    resumed = None
    if msg.get("resume", True):
        path = checkpoint.latest(ckpt_dir)
        if path:
            state = checkpoint.load(path, params, optimizer, scheduler, run_cfg, dist)
            resumed = path
    autocast = torch.autocast(device_type=device_type, dtype=dtype, enabled=precision != "fp32")
    scaler = torch.amp.GradScaler(device_type, enabled=precision == "fp16")

    def shard(rows):
        return rows[dist.rank::dist.world]

    def evaluate():
        if not eval_ex:
            return None
        core.eval()
        loss_sum, count = eval_sums(core, eval_ex, batch_size, pad_id, device, autocast, shard, fsdp)
        loss_sum, count = dist.all_sum([loss_sum, count])
        core.train()
        loss = loss_sum / count
        if not any(e["step"] == state["step"] for e in state["evalHistory"]):
            state["evalHistory"].append({"step": state["step"], "loss": loss})
        return loss

    emit({"type": "started", "total_steps": total, "start_step": state["step"], "resumed_from": resumed, "train_examples": len(train_ex),
          "eval_examples": len(eval_ex), "device": str(device), "precision": precision, "world_size": dist.world,
          "trainable_params": sum(p.numel() for p in params.values())})
    if state["step"] == 0:
        evaluate()
    core.train()
    t0 = time.time()
    start_step, tokens_run, seconds_before = state["step"], 0, state["seconds"]
    stopped = False
    while state["step"] < total:
        # every process must take the same decision, or the others wait forever in the next all-reduce
        if dist.all_sum([1.0 if stop.is_set() else 0.0])[0] > 0:
            stopped = True
            if every > 0 and state["step"] > start_step and state["step"] % every:
                # keep the steps done since the last periodic checkpoint
                emit({"type": "checkpoint", "step": state["step"], "path": checkpoint.save(ckpt_dir, state, params, optimizer, scheduler, dist)})
            break
        micro = batches[state["microStep"]:state["microStep"] + accum]
        normalizer = sum(count_targets(train_ex, rows) for rows in micro)
        loss_sum = 0.0
        for j, rows in enumerate(micro):
            local = shard(rows)
            # a process with no row of this micro-batch (its last, short one) still runs one, weighted 0:
            # DDP's gradient all-reduce needs every process's backward
            weight = 1.0 if local else 0.0
            ids, mask, tgt = collate(train_ex, local or rows[:1], pad_id, device)
            sync = j == len(micro) - 1 or dist.world == 1 or fsdp  # FSDP reduce-scatters every micro-batch
            ctx = model.no_sync() if not sync else _null()
            with ctx:
                with autocast:
                    logits = model(input_ids=ids, attention_mask=mask).logits[:, :-1]
                ce = torch.nn.functional.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), tgt.reshape(-1), ignore_index=-100, reduction="sum")
                scaler.scale(ce * (weight * dist.world / normalizer)).backward()
            loss_sum += weight * ce.item()
            tokens_run += sum(len(train_ex[i][0]) for i in rows)
            state["tokens"] += sum(len(train_ex[i][0]) for i in rows)
        loss_sum = dist.all_sum([loss_sum])[0]
        scaler.unscale_(optimizer)
        grad_norm = torch.nn.utils.clip_grad_norm_(list(params.values()), max_norm)
        grad_norm = float(grad_norm.full_tensor() if hasattr(grad_norm, "full_tensor") else grad_norm)
        step_lr = scheduler.get_last_lr()[0]
        scaler.step(optimizer)
        scaler.update()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        state["step"] += 1
        state["microStep"] += len(micro)
        loss = loss_sum / normalizer
        if not math.isfinite(loss):
            raise SpecError(f"the loss became {loss} at step {state['step']}; lower learningRate (or use fp32/bf16 instead of fp16)")
        state["lossHistory"].append({"step": state["step"], "loss": loss, "lr": step_lr, "gradNorm": grad_norm})
        eval_loss = None
        if (eval_every > 0 and state["step"] % eval_every == 0) or state["step"] == total:
            eval_loss = evaluate()
        elapsed = time.time() - t0
        state["seconds"] = seconds_before + elapsed
        if every > 0 and (state["step"] % every == 0 or state["step"] == total):
            path = checkpoint.save(ckpt_dir, state, params, optimizer, scheduler, dist)
            emit({"type": "checkpoint", "step": state["step"], "path": path})
        done = state["step"] - start_step
        ev = {"type": "progress", "step": state["step"], "total_steps": total, "loss": loss, "lr": step_lr, "grad_norm": grad_norm,
              "tokens_per_s": tokens_run / max(elapsed, 1e-9), "eta_s": elapsed / done * (total - state["step"]),
              "gpu_mem": torch.cuda.max_memory_allocated(device) if device_type == "cuda" else None}
        if eval_loss is not None:
            ev["eval_loss"] = eval_loss
        emit(ev)
    if stopped:
        return {"type": "done", "stopped": True, "step": state["step"], "files": []}

    files = []
    full = checkpoint.full_params(params)  # every process takes part in the gathers under FSDP
    if dist.rank == 0:
        os.makedirs(out_dir, exist_ok=True)
        core.save_pretrained(out_dir, state_dict=full if fsdp else None)
        _canonical_adapter_config(out_dir, model_dir)
        import hashlib

        digest = hashlib.sha256(open(os.path.join(out_dir, "adapter_model.safetensors"), "rb").read()).hexdigest()
        metrics = {
            "method": method, "steps": state["step"], "totalSteps": total, "stopped": False, "tokens": state["tokens"],
            "seconds": state["seconds"], "trainExamples": len(train_ex), "evalExamples": len(eval_ex),
            "lossHistory": state["lossHistory"], "evalHistory": state["evalHistory"],
            "config": {"method": "lora", "lora": {"r": cfg.r, "alpha": cfg.lora_alpha, "dropout": cfg.lora_dropout,
                                                  "targetModules": sorted(core.peft_config["default"].target_modules), "useRslora": cfg.use_rslora,
                                                  "baseModelNameOrPath": model_dir},
                       "lr": lr, "epochs": epochs, "batchSize": batch_size, "gradAccum": accum, "maxSeqLen": max_len, "scheduler": kind,
                       "warmupSteps": warmup, "warmupRatio": float(t.get("warmupRatio", 0.1)), "weightDecay": float(t.get("weightDecay", 0.0)),
                       "maxGradNorm": max_norm, "seed": seed, "pack": False, "evalEvery": eval_every, "checkpointEvery": every},
            "engineVersion": f"tributary-torch/{PROTOCOL} torch {torch.__version__} transformers {transformers.__version__} peft {peft.__version__}",
            "kernel": f"torch-{device_type}-{precision}" + (f"-{'fsdp' if fsdp else 'x'}{dist.world}" if dist.world > 1 else ""),
            "sha256": digest,
            "backend": "torch",
        }
        with open(os.path.join(out_dir, "metrics.json"), "w") as f:
            f.write(json.dumps(metrics, indent=1) + "\n")
        files = ["adapter_model.safetensors", "adapter_config.json", "metrics.json"]
    dist.barrier()
    return {"type": "done", "stopped": False, "step": state["step"], "files": files,
            "gpu_mem": torch.cuda.max_memory_allocated(device) if device_type == "cuda" else None}


def shard_model(model, device_type, world):
    """FSDP2: each decoder layer is its own unit (gathered for its forward and backward), then the root."""
    from torch.distributed.device_mesh import init_device_mesh
    from torch.distributed.fsdp import fully_shard

    mesh = init_device_mesh(device_type, (world,))
    layers = [m for m in model.modules() if isinstance(m, torch_module_list()) and len(m) and all(hasattr(b, "self_attn") or hasattr(b, "attn") for b in m)]
    if not layers:
        raise SpecError("FSDP found no decoder layers (a ModuleList of attention blocks) to shard; train this model with ddp")
    for block in layers[0]:
        fully_shard(block, mesh=mesh)
    fully_shard(model, mesh=mesh)


def torch_module_list():
    import torch

    return torch.nn.ModuleList


class _null:
    def __enter__(self):
        return self

    def __exit__(self, *a):
        return False


def _canonical_adapter_config(out_dir, model_dir):
    """PEFT writes target_modules from a set (its order varies between runs): sort it, so equal runs write equal bytes."""
    p = os.path.join(out_dir, "adapter_config.json")
    with open(p) as f:
        c = json.load(f)
    if isinstance(c.get("target_modules"), list):
        c["target_modules"] = sorted(c["target_modules"])
    c["base_model_name_or_path"] = model_dir
    with open(p, "w") as f:
        json.dump(c, f, indent=2, sort_keys=True)
        f.write("\n")
