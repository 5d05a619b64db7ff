"""PyTorch + PEFT reference numbers for the engine's reference workload, printed as one JSON object.

Workload (issue 4): Llama, vocab 8192, hidden 384, intermediate 1024, 6 layers, 6 heads, tied
embeddings; LoRA r=8, alpha 16 on q_proj and v_proj; batch 8 x 128 tokens; AdamW. Measures training
tokens/s (forward + backward + optimizer step); greedy decode tokens/s with torch's own KV-cache loop
(the engine's loop: a 128-token prompt, then argmax and one forward per token with past_key_values,
through the same unmerged LoRA adapter; no `generate` overhead); and the 1024^3 fp32 matmul rate (the
machine-peak candidate), for each requested thread count.

Usage: .tools/torch-venv/bin/python bench/torch/train_step.py [--threads 1,2] [--steps 6] [--decode-tokens 64]
(bench/torch/setup.sh creates that venv).
"""
import argparse
import json
import platform
import subprocess
import sys
import time

import peft
import torch
import transformers
from peft import LoraConfig, get_peft_model
from transformers import LlamaConfig, LlamaForCausalLM

VOCAB, HIDDEN, INTERMEDIATE, LAYERS, HEADS = 8192, 384, 1024, 6, 6
BATCH, SEQ = 8, 128


def build_model(seed: int) -> LlamaForCausalLM:
    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=VOCAB,
        hidden_size=HIDDEN,
        intermediate_size=INTERMEDIATE,
        num_hidden_layers=LAYERS,
        num_attention_heads=HEADS,
        num_key_value_heads=HEADS,
        max_position_embeddings=1024,
        tie_word_embeddings=True,
    )
    return LlamaForCausalLM(config)


def train_tokens_per_s(steps: int, seed: int) -> dict:
    model = build_model(seed)
    params = sum(p.numel() for p in model.parameters())
    model = get_peft_model(model, LoraConfig(r=8, lora_alpha=16, lora_dropout=0.0, target_modules=["q_proj", "v_proj"]))
    model.train()
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)
    gen = torch.Generator().manual_seed(seed)
    ids = torch.randint(0, VOCAB, (BATCH, SEQ), generator=gen)

    def step() -> float:
        out = model(input_ids=ids, labels=ids)
        out.loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        return out.loss.item()

    for _ in range(2):  # warm-up: allocator, kernels' first-call costs
        step()
    times = []
    cpu0 = time.process_time()
    for _ in range(steps):
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    cpu = time.process_time() - cpu0
    best, total = min(times), sum(times)
    return {
        "train_tokens_per_s": round(BATCH * SEQ * steps / total, 1),
        "train_tokens_per_s_best_step": round(BATCH * SEQ / best, 1),
        "step_ms_mean": round(1000 * total / steps, 1),
        # tokens per second of the process's CPU time (all threads): less sensitive to other processes
        "train_tokens_per_cpu_s": round(BATCH * SEQ * steps / cpu, 1),
        "params": params,
        "trainable_params": trainable,
    }


@torch.no_grad()
def decode_tokens_per_s(new_tokens: int, seed: int) -> dict:
    model = build_model(seed)
    model = get_peft_model(model, LoraConfig(r=8, lora_alpha=16, lora_dropout=0.0, target_modules=["q_proj", "v_proj"])).eval()
    gen = torch.Generator().manual_seed(seed + 1)
    prompt = torch.randint(0, VOCAB, (1, SEQ), generator=gen)

    def run(n: int) -> tuple[float, float]:
        t0 = time.perf_counter()
        out = model(input_ids=prompt, use_cache=True)
        prefill = time.perf_counter() - t0
        t0 = time.perf_counter()
        past, logits = out.past_key_values, out.logits[:, -1, :]
        for _ in range(n):
            nxt = logits.argmax(dim=-1, keepdim=True)
            out = model(input_ids=nxt, past_key_values=past, use_cache=True)
            past, logits = out.past_key_values, out.logits[:, -1, :]
        return prefill, time.perf_counter() - t0

    run(4)  # warm-up
    best_prefill, best_decode = float("inf"), float("inf")
    for _ in range(3):
        p, d = run(new_tokens)
        best_prefill, best_decode = min(best_prefill, p), min(best_decode, d)
    return {
        "decode_tokens_per_s": round(new_tokens / best_decode, 1),
        "prefill_tokens_per_s": round(SEQ / best_prefill, 1),
        "decode_new_tokens": new_tokens,
        "decode_loop": "torch KV-cache argmax loop, 128-token prompt, LoRA r8 q,v unmerged (as the engine's)",
    }


def matmul_gflops(reps: int = 5) -> float:
    a, b = torch.randn(1024, 1024), torch.randn(1024, 1024)
    a @ b  # warm-up
    best = float("inf")
    for _ in range(reps):
        t0 = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - t0)
    return round(2 * 1024**3 / best / 1e9, 1)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--steps", type=int, default=6)
    ap.add_argument("--decode-tokens", type=int, default=64)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    result = {
        "workload": f"Llama vocab {VOCAB} hidden {HIDDEN} intermediate {INTERMEDIATE} layers {LAYERS} heads {HEADS} tied; "
        f"LoRA r=8 alpha=16 q_proj,v_proj; batch {BATCH}x{SEQ}; AdamW",
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "peft": peft.__version__,
        "python": platform.python_version(),
        "threads": {},
    }
    counts = [int(x) for x in args.threads.split(",")]
    if len(counts) == 1:
        torch.set_num_threads(counts[0])
        result["threads"][str(counts[0])] = {
            **train_tokens_per_s(args.steps, args.seed),
            **decode_tokens_per_s(args.decode_tokens, args.seed),
            "matmul_gflops": matmul_gflops(),
        }
    else:
        # One process per thread count: changing torch's thread count inside a process slowed the runs
        # after the change 2-3x here (the OpenMP pool does not resize cleanly).
        for t in counts:
            child = subprocess.run(
                [sys.executable, __file__, "--threads", str(t), "--steps", str(args.steps), "--decode-tokens", str(args.decode_tokens), "--seed", str(args.seed)],
                check=True, capture_output=True, text=True,
            )
            result["threads"].update(json.loads(child.stdout.strip().splitlines()[-1])["threads"])
    print(json.dumps(result))


if __name__ == "__main__":
    main()
