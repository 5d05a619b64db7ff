"""GPU benchmark of the trainer node's torch backend (issue 10), written to bench/results/gpu.json.

Workload: a ~1.1B Llama-configured model (TinyLlama's shape: hidden 2048, intermediate 5632, 22 layers, 32 heads,
4 KV heads, vocab 32000; random weights: throughput only), batch 4 x 1,024 tokens, LoRA r=16 alpha 32 on all linear
layers, AdamW, bf16. Measured in one run on one device:
  - bf16 matrix rate: torch.matmul of 8192^3 bf16 (the MFU denominator);
  - the torch backend (trainer-node/torch/worker.py, exactly as the node runs it) with LoRA and with QLoRA
    (the engine's NF4 layout): training tokens/s from its progress events (steps after the warmup), peak memory;
  - plain transformers + PEFT with the same settings (bf16 weights, LoRA fp32, autocast bf16, the same loss);
  - lora_over_hf_peft = backend LoRA tokens/s / plain tokens/s (goal >= 1.0),
    qlora_peak_mem_over_lora = backend QLoRA peak / backend LoRA peak (goal <= 0.45),
    each the median over --rounds interleaved rounds (default 3; each round runs the three in a rotated order, and a
    ratio pairs the runs of one round), with the min and max recorded;
  - once after the rounds, the backend's LoRA and QLoRA with gradient checkpointing (gradient_checkpointing: tokens/s,
    peak memory, qlora_gc_peak_mem_over_lora_gc): without it, activations dominate the peak at this batch;
    MFU = 4 x params x tokens/s / matmul rate (LoRA: forward 2N + input gradients 2N per token; no weight gradients).

Run it with `sh bench/gpu/run.sh [--out FILE]` (picks a Python with CUDA torch, see run.sh). Needs a CUDA device with
>= 24 GB; about 1-2 minutes a round on an H100/H200 class GPU (3 x 24 training steps, the workers' start, QLoRA's
quantization). The result file is rewritten after each round, so a run cut short keeps its finished rounds. The result records the device, the library versions (and the project's pinned ones), the settings and
the date; nothing here is estimated: every number is measured in the run.
"""
import argparse
import datetime
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time

import peft
import torch
import transformers

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
WORKER = os.path.join(ROOT, "trainer-node", "torch", "worker.py")
TOKENIZER = os.path.join(ROOT, "engine", "models", "tributary-austen-4m")
BATCH, SEQ, RANK, STEPS, WARMUP = 4, 1024, 16, 24, 4


def matmul_rate():
    a = torch.randn(8192, 8192, device="cuda", dtype=torch.bfloat16)
    b = torch.randn(8192, 8192, device="cuda", dtype=torch.bfloat16)
    for _ in range(3):
        a @ b
    torch.cuda.synchronize()
    t = time.time()
    n = 20
    for _ in range(n):
        a @ b
    torch.cuda.synchronize()
    return 2 * 8192 ** 3 * n / (time.time() - t)


def make_model(d):
    from transformers import LlamaConfig, LlamaForCausalLM

    cfg = LlamaConfig(vocab_size=32000, hidden_size=2048, intermediate_size=5632, num_hidden_layers=22, num_attention_heads=32,
                      num_key_value_heads=4, max_position_embeddings=2048, tie_word_embeddings=False, bos_token_id=0, eos_token_id=1, pad_token_id=2)
    torch.manual_seed(0)
    with torch.device("cuda"):
        model = LlamaForCausalLM(cfg).to(torch.bfloat16)
    params = sum(p.numel() for p in model.parameters())
    model.save_pretrained(d)
    for f in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
        shutil.copy(os.path.join(TOKENIZER, f), d)
    del model
    torch.cuda.empty_cache()
    return params


def records(path, n):
    """Text records of >= SEQ tokens (truncated to SEQ by maxSeqLength): every row of a batch is full."""
    words = open(os.path.join(ROOT, "engine", "models", "tributary-austen-4m", "README.md")).read().split()
    with open(path, "w") as f:
        for i in range(n):
            f.write(json.dumps({"text": " ".join(words[(i * 37) % len(words):] + words) * 3}) + "\n")


def backend(model_dir, data, out, method, gc=False):
    job = {"type": "train", "model_dir": model_dir, "train_file": data, "out_dir": out, "resume": False, "checkpoint_every": 0,
           "precision": "bf16", "device": "cuda", "gradient_checkpointing": gc,
           "spec": {"method": method, "lora": {"r": RANK, "alpha": 2 * RANK, "dropout": 0.0, "targetModules": ["all-linear"], "rslora": False},
                    "training": {"learningRate": 1e-4, "epochs": 1, "batchSize": BATCH, "gradientAccumulation": 1, "maxSeqLength": SEQ,
                                 "scheduler": "constant", "warmupRatio": 0.0, "weightDecay": 0.0, "maxGradNorm": 1.0, "seed": 1}}}
    jf = os.path.join(out + "-job.json")
    json.dump(job, open(jf, "w"))
    p = subprocess.Popen([sys.executable, WORKER, "--job", jf], stdout=subprocess.PIPE, text=True)
    times, peak, hello = [], None, None
    for line in p.stdout:
        m = json.loads(line)
        if m["type"] == "hello":
            hello = m
        elif m["type"] == "progress":
            times.append(time.time())
            peak = m["gpu_mem"]
        elif m["type"] == "error":
            raise RuntimeError(f"the torch worker ({method}) failed: {m['message']}")
    if p.wait() != 0 or len(times) < WARMUP + 2:
        raise RuntimeError(f"the torch worker ({method}) exited with code {p.returncode} after {len(times)} steps (its stderr is above)")
    if hello and hello.get("protocol") is not None:
        print(f"bench/gpu: {method}: worker protocol {hello['protocol']}, {len(times)} steps", file=sys.stderr)
    timed = times[WARMUP:]
    return {"tokens_per_s": BATCH * SEQ * (len(timed) - 1) / (timed[-1] - timed[0]), "peak_mem_bytes": peak, "steps": len(times)}


def plain(model_dir):
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.cuda.reset_peak_memory_stats()
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.bfloat16).cuda()
    model.config.use_cache = False
    model = get_peft_model(model, LoraConfig(r=RANK, lora_alpha=2 * RANK, lora_dropout=0.0, target_modules="all-linear", task_type="CAUSAL_LM"))
    for p in model.parameters():
        if p.requires_grad:
            p.data = p.data.float()
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4, weight_decay=0.0)
    ids = torch.randint(3, 4096, (BATCH, SEQ), device="cuda")
    times = []
    for _ in range(STEPS):
        with torch.autocast("cuda", dtype=torch.bfloat16):
            loss = model(input_ids=ids, labels=ids).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_([p for p in model.parameters() if p.requires_grad], 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        torch.cuda.synchronize()
        times.append(time.time())
    timed = times[WARMUP:]
    r = {"tokens_per_s": BATCH * SEQ * (len(timed) - 1) / (timed[-1] - timed[0]), "peak_mem_bytes": torch.cuda.max_memory_allocated()}
    del model, opt
    torch.cuda.empty_cache()
    return r


def pinned():
    req = os.path.join(ROOT, "engine", "scripts", "python-requirements.txt")
    return dict(l.strip().split("==", 1) for l in open(req) if "==" in l and not l.startswith("#"))


def spread(xs):
    xs = sorted(xs)
    n = len(xs)
    med = xs[n // 2] if n % 2 else (xs[n // 2 - 1] + xs[n // 2]) / 2
    return {"median": med, "min": xs[0], "max": xs[-1], "runs": n}


def main():
    ap = argparse.ArgumentParser(description="GPU benchmark of the trainer node's torch backend")
    ap.add_argument("--out", default=os.path.join(ROOT, "bench", "results", "gpu.json"), help="where to write the result (default bench/results/gpu.json)")
    ap.add_argument("--rounds", type=int, default=3, help="interleaved rounds of the three runs (default 3)")
    args = ap.parse_args()
    if not torch.cuda.is_available():
        sys.exit("bench/gpu needs a CUDA device; this machine has none (the CPU tests cover correctness)")
    if args.rounds < 1:
        sys.exit("bench/gpu: --rounds must be at least 1")
    work = tempfile.mkdtemp(prefix="tributary-gpu-bench-")
    try:
        rate = matmul_rate()
        model_dir = os.path.join(work, "model")
        params = make_model(model_dir)
        data = os.path.join(work, "data.jsonl")
        records(data, BATCH * STEPS)
        mfu = lambda tps: 4 * params * tps / rate  # noqa: E731
        runs = {"hf_peft_lora": lambda r: plain(model_dir),
                "backend_lora": lambda r: backend(model_dir, data, os.path.join(work, f"lora-{r}"), "lora"),
                "backend_qlora": lambda r: backend(model_dir, data, os.path.join(work, f"qlora-{r}"), "qlora")}
        names = list(runs)
        rounds, errors, gc_runs = [], [], {}
        for r in range(args.rounds):
            order = names[r % 3:] + names[:r % 3]
            got = {"order": order}
            for name in order:
                t = time.time()
                try:
                    got[name] = runs[name](r)
                except Exception as e:  # a failed run is recorded, and the others still run
                    errors.append(f"round {r + 1} {name}: {e}")
                    print(f"bench/gpu: round {r + 1} {name} failed: {e}", file=sys.stderr)
                    continue
                print(f"bench/gpu: round {r + 1} {name}: {got[name]['tokens_per_s']:.0f} tokens/s, peak {got[name]['peak_mem_bytes'] / 2**30:.2f} GiB ({time.time() - t:.0f} s)", file=sys.stderr)
            if "backend_lora" in got and "hf_peft_lora" in got:
                got["lora_over_hf_peft"] = got["backend_lora"]["tokens_per_s"] / got["hf_peft_lora"]["tokens_per_s"]
            if "backend_lora" in got and "backend_qlora" in got:
                got["qlora_peak_mem_over_lora"] = got["backend_qlora"]["peak_mem_bytes"] / got["backend_lora"]["peak_mem_bytes"]
            rounds.append(got)
            if r == args.rounds - 1:
                # once, after the rounds: both with gradient checkpointing, where activations no longer hide what
                # the quantized base saves (memory is what this pair is for; one run each)
                for name, method in (("backend_lora_gc", "lora"), ("backend_qlora_gc", "qlora")):
                    try:
                        gc_runs[name] = backend(model_dir, data, os.path.join(work, name), method, gc=True)
                        print(f"bench/gpu: {name}: {gc_runs[name]['tokens_per_s']:.0f} tokens/s, peak {gc_runs[name]['peak_mem_bytes'] / 2**30:.2f} GiB", file=sys.stderr)
                    except Exception as e:
                        errors.append(f"{name}: {e}")
                        print(f"bench/gpu: {name} failed: {e}", file=sys.stderr)
            summary = {}
            for name in names:
                tps = [g[name]["tokens_per_s"] for g in rounds if name in g]
                if tps:
                    mem = [g[name]["peak_mem_bytes"] for g in rounds if name in g]
                    summary[name] = {"tokens_per_s": spread(tps), "peak_mem_bytes": max(mem), "mfu": mfu(spread(tps)["median"])}
            for k in ("lora_over_hf_peft", "qlora_peak_mem_over_lora"):
                xs = [g[k] for g in rounds if k in g]
                if xs:
                    summary[k] = spread(xs)
            gc = dict(gc_runs)
            if "backend_lora_gc" in gc and "backend_qlora_gc" in gc:
                gc["qlora_gc_peak_mem_over_lora_gc"] = gc["backend_qlora_gc"]["peak_mem_bytes"] / gc["backend_lora_gc"]["peak_mem_bytes"]
            result = {
                "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
                "device": torch.cuda.get_device_name(0), "device_memory_bytes": torch.cuda.get_device_properties(0).total_memory,
                "versions": {"python": platform.python_version(), "torch": torch.__version__, "cuda": torch.version.cuda, "transformers": transformers.__version__, "peft": peft.__version__},
                "pinned_versions": pinned(),
                "settings": {"model": "Llama hidden 2048, intermediate 5632, 22 layers, 32 heads, 4 KV heads, vocab 32000, untied (random weights)",
                             "params": params, "batch": BATCH, "seq": SEQ, "lora": f"r={RANK} alpha={2 * RANK} all-linear", "precision": "bf16",
                             "steps": STEPS, "timed_steps": STEPS - WARMUP, "rounds": args.rounds, "rounds_done": len(rounds),
                             "mfu": "4 x params x tokens/s (median) / bf16 matmul rate",
                             "baseline": "plain transformers + PEFT in one process, the same model, batch, LoRA, optimizer and clipping; bf16 autocast, LoRA in fp32"},
                "bf16_matmul_flops": rate,
                **summary,
                "gradient_checkpointing": gc,
                "rounds": rounds,
                "errors": errors,
                "goals": {"lora_over_hf_peft": ">= 1.0 (median)", "qlora_peak_mem_over_lora": "<= 0.45 (median)"},
                "command": "sh bench/gpu/run.sh",
            }
            out = args.out
            os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
            with open(out, "w") as f:
                f.write(json.dumps(result, indent=2) + "\n")
        print(json.dumps({k: v for k, v in result.items() if k != "rounds"}, indent=2))
        if errors:
            sys.exit(f"bench/gpu: {len(errors)} run(s) failed (recorded under errors in {args.out})")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
