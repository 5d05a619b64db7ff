"""`evaluate`: the held-out eval loss of a trained adapter, as its training run measured it after the last step, for
a verifier checking an eval-class job (trainer-node/src/jobs/eval-check.ts) on a base the engine cannot load.

The loss is train.py's `eval_sums` (the one definition training reports): records encoded as training encodes
them, cut to `max_seq_len`, those without a target left out, batches of `batch_size` rows right-padded, the summed
target-token cross-entropy over the target count; the model in eval mode (no dropout). The base loads as training
loads it (NF4-quantized with `nf4`, as a QLoRA job trained it) and the PEFT adapter on top, its LoRA weights in fp32.
The shard's loss is the same over the records of shard `shard` (record i is in shard i % SHARDS), evaluated on their
own; an empty shard (fewer records than shards, or none with a target) reports the whole set's loss.
"""
import math
import time

from .data import DataError, RecordEncoder, read_records, trainable

SHARDS = 8  # the DisputeGame's EVAL_SHARDS


def _usable(examples, max_len):
    out = [(ids[:max_len], flags[:max_len]) for ids, flags in examples]
    return [e for e in out if any(f for f in e[1][1:])]


def run(msg, emit, stop):
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    from .train import SpecError, choose_precision, eval_sums, model_and_adapter

    model_dir, adapter_dir = model_and_adapter(msg, "evaluate", ("model_dir", "adapter_dir", "data_file", "batch_size", "max_seq_len"))
    batch_size, max_len = int(msg["batch_size"]), int(msg["max_seq_len"])
    shard = int(msg.get("shard", 0))
    if batch_size < 1 or max_len < 2:
        raise SpecError(f"batch_size {batch_size} and max_seq_len {max_len} must be at least 1 and 2")
    if not 0 <= shard < SHARDS:
        raise SpecError(f"shard must be 0..{SHARDS - 1}, got {shard}")
    if msg.get("threads"):
        torch.set_num_threads(int(msg["threads"]))
    device_type = "cuda" if torch.cuda.is_available() and msg.get("device", "auto") != "cpu" else "cpu"
    if msg.get("device") == "cuda" and device_type != "cuda":
        raise SpecError("device cuda was asked for but torch sees no CUDA device")
    device = torch.device(device_type)
    precision = choose_precision(msg.get("precision", "auto"), device_type, torch)
    dtype = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}[precision]
    t0 = time.time()

    enc = RecordEncoder(model_dir)
    encoded = [enc.encode_record(r) for r in read_records(msg["data_file"])]
    examples = trainable(encoded, max_len)  # training's eval set (raises when no record has a target)
    shard_examples = _usable([e for i, e in enumerate(encoded) if i % SHARDS == shard], max_len)
    pad_id = enc.tok.pad_token_id if enc.tok.pad_token_id is not None else (enc.eos_id or 0)

    nf4 = bool(msg.get("nf4"))
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=dtype if not nf4 else torch.float32)
    if nf4:
        from .nf4 import quantize_model

        quantize_model(model, dtype)
    model = PeftModel.from_pretrained(model, adapter_dir)
    for n, p in model.named_parameters():
        if "lora_" in n:
            p.data = p.data.float()  # as training holds them, whatever the base's dtype
    model.to(device)
    model.eval()
    model.config.use_cache = False
    autocast = torch.autocast(device_type=device_type, dtype=dtype, enabled=precision != "fp32")

    def mean(exs):
        if stop.is_set():
            raise DataError("the evaluation was stopped")
        s, n = eval_sums(model, exs, batch_size, pad_id, device, autocast)
        loss = s / n
        if not math.isfinite(loss):
            raise DataError(f"the eval loss is {loss}; the adapter or the base is broken")
        return loss, n

    loss, tokens = mean(examples)
    shard_loss, shard_tokens = mean(shard_examples) if shard_examples else (loss, 0)
    return {"type": "evaluated", "loss": loss, "shard": shard, "shard_loss": shard_loss, "examples": len(examples),
            "shard_examples": len(shard_examples), "tokens": tokens, "shard_tokens": shard_tokens,
            "seconds": time.time() - t0, "device": str(device), "precision": precision}
