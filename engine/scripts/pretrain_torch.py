"""Fast pretraining path for the demo base model (engine/docs/base-model.md), with PyTorch on the CPU.

make-base-model.ts --trainer torch prepares everything (corpus, tokenizer, config, records tokenized with the
engine's own tokenizer) into a work directory and then runs this script on it:

    python engine/scripts/pretrain_torch.py --work DIR --out DIR [--steps N | --time-budget SECONDS] ...

Inputs in --work: config.json (HF Llama config), train.tokens.jsonl / eval.tokens.jsonl ({"ids": [...]} per
record, BOS + text + EOS), tokenizer/ (tokenizer.json, tokenizer_config.json, special_tokens_map.json).
Training: LlamaForCausalLM from that config, init normal(0, std), AdamW, linear warmup then cosine to 10% of the
peak lr, records shuffled per epoch (seeded) and concatenated into rows of --seq-len tokens, eval loss per
record exactly as the engine's evaluate() computes it (mean cross-entropy over every token after BOS).
With --time-budget (and no --steps) the cosine follows elapsed time instead of steps and training stops when the
budget is spent, so a shared, busy CPU still gets a complete schedule; the step count reached is saved, but such a
run is not replayable bit for bit (a --steps run with the same seed and thread count is).
Checkpoints (model, optimizer, step, RNG) go to --work/torch-checkpoints/last.pt every --checkpoint-every steps;
a rerun resumes from it. The weights with the best eval loss are kept and written to --out in HF layout:
config.json, model.safetensors (bf16), tokenizer files, generation_config.json, and train-report.json.
"""

import argparse
import json
import math
import os
import random
import shutil
import sys
import time


def log(msg):
    print(msg, flush=True)


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--work", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--seed", type=int, default=1234)
    p.add_argument("--seq-len", type=int, default=256)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--min-lr-ratio", type=float, default=0.1)
    p.add_argument("--weight-decay", type=float, default=0.1)
    p.add_argument("--warmup-steps", type=int, default=100)
    p.add_argument("--max-grad-norm", type=float, default=1.0)
    p.add_argument("--init-std", type=float, default=0.02)
    p.add_argument("--steps", type=int, default=0, help="total optimizer steps (0: use --time-budget)")
    p.add_argument("--time-budget", type=float, default=0, help="seconds of training to plan the step count for")
    p.add_argument("--eval-every", type=int, default=100)
    p.add_argument("--checkpoint-every", type=int, default=50)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--log-every", type=int, default=10)
    return p.parse_args()


def main():
    a = parse_args()
    try:
        import torch
        from transformers import LlamaConfig, LlamaForCausalLM
    except ImportError as e:
        print(f"pretrain_torch: PyTorch/transformers are not importable ({e}). Run engine/scripts/python-venv.sh first.", file=sys.stderr)
        sys.exit(3)

    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    random.seed(a.seed)
    torch.use_deterministic_algorithms(True)

    with open(os.path.join(a.work, "config.json")) as f:
        hf = json.load(f)
    cfg = LlamaConfig(**{k: v for k, v in hf.items() if k not in ("architectures", "model_type")})
    cfg.initializer_range = a.init_std
    model = LlamaForCausalLM(cfg)
    model.train()
    n_params = sum(p.numel() for p in model.parameters())
    log(f"model: {n_params} parameters ({n_params * 2 / 1e6:.2f} MB in bf16), torch {torch.__version__}, {a.threads} thread(s)")

    def read_ids(name):
        with open(os.path.join(a.work, name)) as f:
            return [json.loads(line)["ids"] for line in f if line.strip()]

    train = read_ids("train.tokens.jsonl")
    evals = read_ids("eval.tokens.jsonl")
    tokens_per_epoch = sum(len(r) for r in train)
    log(f"data: {len(train)} train records ({tokens_per_epoch} tokens), {len(evals)} eval records ({sum(len(r) for r in evals)} tokens)")

    def epoch_rows(epoch):
        order = list(range(len(train)))
        random.Random(a.seed * 1000 + epoch).shuffle(order)
        stream = [t for i in order for t in train[i]]
        n = len(stream) // a.seq_len
        return torch.tensor(stream[: n * a.seq_len], dtype=torch.long).view(n, a.seq_len)

    def evaluate():
        model.eval()
        total, count = 0.0, 0
        with torch.no_grad():
            for i in range(0, len(evals), 16):
                chunk = [r[: a.seq_len] for r in evals[i : i + 16]]
                width = max(len(r) for r in chunk)
                ids = torch.full((len(chunk), width), hf.get("pad_token_id") or 0, dtype=torch.long)
                labels = torch.full((len(chunk), width), -100, dtype=torch.long)
                mask = torch.zeros((len(chunk), width), dtype=torch.long)
                for j, r in enumerate(chunk):
                    ids[j, : len(r)] = torch.tensor(r)
                    labels[j, 1 : len(r)] = torch.tensor(r[1:])
                    mask[j, : len(r)] = 1
                logits = model(input_ids=ids, attention_mask=mask).logits.float()
                lp = torch.nn.functional.cross_entropy(logits[:, :-1].reshape(-1, logits.shape[-1]), labels[:, 1:].reshape(-1), ignore_index=-100, reduction="sum")
                total += lp.item()
                count += int((labels[:, 1:] != -100).sum())
        model.train()
        return total / count

    decay = [p for n, p in model.named_parameters() if not n.endswith("norm.weight")]
    no_decay = [p for n, p in model.named_parameters() if n.endswith("norm.weight")]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": a.weight_decay}, {"params": no_decay, "weight_decay": 0.0}], lr=a.lr, betas=(0.9, 0.95), eps=1e-8)

    ckpt_dir = os.path.join(a.work, "torch-checkpoints")
    os.makedirs(ckpt_dir, exist_ok=True)
    ckpt_path = os.path.join(ckpt_dir, "last.pt")
    best_path = os.path.join(ckpt_dir, "best.pt")
    state = {"step": 0, "total_steps": a.steps, "best_eval": float("inf"), "best_step": 0, "elapsed": 0.0, "tokens": 0, "history": []}
    if os.path.exists(ckpt_path):
        ck = torch.load(ckpt_path, weights_only=False)
        model.load_state_dict(ck["model"])
        opt.load_state_dict(ck["opt"])
        state = ck["state"]
        torch.set_rng_state(ck["torch_rng"])
        log(f"resumed at step {state['step']} (best eval {state['best_eval']:.4f} at step {state['best_step']})")

    def lr_at(step, total):
        if step < a.warmup_steps:
            return a.lr * (step + 1) / a.warmup_steps
        if a.time_budget and not a.steps:
            w = state.get("warmup_seconds") or 0
            t = min(1.0, max(0.0, (state["elapsed"] - w) / max(1.0, a.time_budget - w)))
        elif not total:
            return a.lr
        else:
            t = min(1.0, (step - a.warmup_steps) / max(1, total - a.warmup_steps))
        return a.lr * (a.min_lr_ratio + (1 - a.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * t)))

    def save_checkpoint():
        tmp = ckpt_path + ".tmp"
        torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "state": state, "torch_rng": torch.get_rng_state()}, tmp)
        os.replace(tmp, ckpt_path)

    if state["step"] == 0:
        e0 = evaluate()
        state["eval_before"] = e0
        log(f"eval loss before training {e0:.4f} (uniform: ln {cfg.vocab_size} = {math.log(cfg.vocab_size):.4f})")

    rows_per_epoch = epoch_rows(0).shape[0]
    batches_per_epoch = rows_per_epoch // a.batch_size
    t_start = time.time() - state["elapsed"]
    t_window, tok_window = time.time(), 0
    rows, rows_epoch = None, -1
    while state["total_steps"] == 0 or state["step"] < state["total_steps"]:
        step = state["step"]
        epoch, b = divmod(step, batches_per_epoch)
        if rows_epoch != epoch:
            rows, rows_epoch = epoch_rows(epoch), epoch
        x = rows[b * a.batch_size : (b + 1) * a.batch_size]
        lr = lr_at(step, state["total_steps"])
        for g in opt.param_groups:
            g["lr"] = lr
        loss = model(input_ids=x, labels=x).loss
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), a.max_grad_norm)
        opt.step()
        state["step"] = step + 1
        state["tokens"] += x.numel()
        tok_window += x.numel()
        state["elapsed"] = time.time() - t_start
        sps = state["step"] / max(1e-9, state["elapsed"])
        if a.time_budget and not a.steps:
            # time-planned run: the schedule follows elapsed time (robust to a shared, busy CPU)
            state["warmup_seconds"] = state.get("warmup_seconds") or (state["elapsed"] if state["step"] == a.warmup_steps else 0)
            if state["elapsed"] >= a.time_budget:
                state["total_steps"] = state["step"]
        if state["step"] % a.log_every == 0:
            now = time.time()
            tps = tok_window / max(1e-9, now - t_window)
            t_window, tok_window = now, 0
            left = (state["total_steps"] - state["step"]) / sps if state["total_steps"] else max(0.0, a.time_budget - state["elapsed"])
            log(f"step {state['step']}/{state['total_steps'] or '?'} epoch {epoch} loss {loss.item():.4f} lr {lr:.2e} {tps:.0f} tok/s eta {left:.0f} s")
        last = state["total_steps"] and state["step"] >= state["total_steps"]
        if state["step"] % a.eval_every == 0 or last:
            ev = evaluate()
            state["history"].append({"step": state["step"], "train_loss": loss.item(), "eval_loss": ev, "tokens": state["tokens"], "seconds": round(state["elapsed"], 1)})
            mark = ""
            if ev < state["best_eval"]:
                state["best_eval"], state["best_step"] = ev, state["step"]
                torch.save(model.state_dict(), best_path + ".tmp")
                os.replace(best_path + ".tmp", best_path)
                mark = " (best)"
            log(f"eval step {state['step']} loss {ev:.4f}{mark}")
        if state["step"] % a.checkpoint_every == 0 or last:
            save_checkpoint()
        if last:
            break

    model.load_state_dict(torch.load(best_path))
    final_eval = evaluate()
    log(f"best eval loss {final_eval:.4f} at step {state['best_step']} of {state['total_steps']}")
    os.makedirs(a.out, exist_ok=True)
    model.to(torch.bfloat16).save_pretrained(a.out, safe_serialization=True)
    for name in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
        shutil.copy(os.path.join(a.work, "tokenizer", name), os.path.join(a.out, name))
    with open(os.path.join(a.out, "generation_config.json"), "w") as f:
        json.dump({"bos_token_id": hf["bos_token_id"], "eos_token_id": hf["eos_token_id"], "pad_token_id": hf["pad_token_id"]}, f, indent=2)
        f.write("\n")
    report = {
        "trainer": "torch",
        "torch": torch.__version__,
        "threads": a.threads,
        "parameters": n_params,
        "hyperparameters": {k: v for k, v in vars(a).items() if k not in ("work", "out")},
        "tokens_per_epoch": tokens_per_epoch,
        "total_steps": state["total_steps"],
        "best_step": state["best_step"],
        "tokens_seen_at_best": state["best_step"] * a.batch_size * a.seq_len,
        "tokens_seen": state["tokens"],
        "seconds": round(state["elapsed"], 1),
        "eval_loss_before": state.get("eval_before"),
        "eval_loss": final_eval,
        "train_loss_at_best": next((h["train_loss"] for h in state["history"] if h["step"] == state["best_step"]), None),
        "history": state["history"],
    }
    with open(os.path.join(a.out, "train-report.json"), "w") as f:
        json.dump(report, f, indent=2)
        f.write("\n")
    log(f"saved to {a.out}")


if __name__ == "__main__":
    main()
