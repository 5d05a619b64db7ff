"""Training-time attribution with torch autograd: the node's definition (trainer-node/src/jobs/influence.ts and
attribution.ts), on any causal LM transformers loads, so a torch job on a base the engine cannot load (Qwen2,
Gemma, ...) gets the same report as an engine job.

Gradients are taken on the LoRA parameters only, with dropout off, of
  - each contribution: the gradient of its examples' summed target-token loss (G_c = mean-loss gradient x tokens);
  - each query (one eval record): the gradient of its mean target-token loss (g_q),
at the checkpoints the method reads: for *_cp methods ATTRIBUTION_CHECKPOINTS evenly spaced checkpoints of the
run, the final one last, each standing for the mean learning rate of the steps it closes; for tracin_last the
final adapter. Scores (positive: training on c lowered q's loss), summed over checkpoints k:
  tracin_last     <g_q, G_c> at the final adapter (weight 1)
  tracin_cp       lr_k <g_q, G_c>
  grad_cos_cp     lr_k cos(g_q, G_c)
  adam_tracin_cp  lr_k <g_q, P_k G_c>            P_k = 1 / (sqrt(v_k / (1 - beta2^t_k)) + eps), AdamW's second moment
  adam_cos_cp     lr_k cos(g_q, P_k G_c)
An adam_* method on checkpoints without optimizer state falls back to grad_cos_cp / tracin_cp (named in the answer).

Checkpoints are read in either backend's layout: the worker's (adapter.safetensors + optimizer.pt) or the engine's
(params.safetensors + optimizer.safetensors with exp_avg_sq.<name> and metadata t), tensors matched by the PEFT-free
name `model.layers.0.self_attn.q_proj.lora_A.weight`.

Memory: the query gradients are kept in float32 (Q x trainable parameters x 4 bytes, on the device); contributions are
streamed (one gradient at a time).
"""
import json
import math
import os
import re
import time

from .data import DataError, RecordEncoder

METHODS = ("tracin_last", "tracin_cp", "grad_cos_cp", "adam_tracin_cp", "adam_cos_cp")
CHECKPOINTS = 3
BATCH = 8  # rows per forward pass (the engine's lossGradient batch)


class AttributionStopped(RuntimeError):
    """A stop came while attributing; nothing was written (a retry starts over)."""


def canonical(name):
    """PEFT parameter name -> the engine's tensor name (`base_model.model.` and the adapter name `.default` dropped)."""
    if name.startswith("base_model.model."):
        name = name[len("base_model.model."):]
    return name.replace(".default.", ".")


def pick_checkpoints(ckpt_dir, count):
    """The engine's choice (attribution.ts checkpointsOf): `count` evenly spaced step folders, newest last."""
    names = sorted(n for n in os.listdir(ckpt_dir) if re.fullmatch(r"step-\d+", n)) if os.path.isdir(ckpt_dir) else []
    if not names:
        return []
    picked = []
    for i in range(count):
        n = names[math.floor((i + 1) * len(names) / count + 0.5) - 1]  # JS Math.round: half up
        if n not in picked:
            picked.append(n)
    return picked


def read_checkpoint(path, names):
    """(params {canonical name: tensor}, v {name: tensor} or None, t, beta2, eps, step, lossHistory) of a checkpoint folder."""
    import torch
    from safetensors import safe_open
    from safetensors.torch import load_file

    with open(os.path.join(path, "trainer_state.json")) as f:
        state = json.load(f)
    if os.path.exists(os.path.join(path, "params.safetensors")):  # the engine's layout
        params = load_file(os.path.join(path, "params.safetensors"))
        opt_file = os.path.join(path, "optimizer.safetensors")
        v, t, beta2, eps = None, 0, 0.999, 1e-8  # the engine's AdamW defaults (a checkpoint does not store them)
        if os.path.exists(opt_file):
            o = load_file(opt_file)
            with safe_open(opt_file, "pt") as f:
                t = int((f.metadata() or {}).get("t", "0"))
            v = {n: o[f"exp_avg_sq.{n}"] for n in params if f"exp_avg_sq.{n}" in o}
            if len(v) != len(params):
                v = None
        return params, v, t, beta2, eps, state
    if not os.path.exists(os.path.join(path, "adapter.safetensors")):
        raise DataError(f"{path} is not a checkpoint of either backend (no params.safetensors, no adapter.safetensors)")
    raw = load_file(os.path.join(path, "adapter.safetensors"))
    params = {canonical(k): x for k, x in raw.items()}
    v, t, beta2, eps = None, 0, 0.999, 1e-8
    opt_file = os.path.join(path, "optimizer.pt")
    if os.path.exists(opt_file):
        sd = torch.load(opt_file, map_location="cpu", weights_only=True)
        group = sd["param_groups"][0]
        beta2, eps = float(group["betas"][1]), float(group["eps"])
        # the optimizer's parameters are the trainable ones in the model's order, as training listed them
        order = [canonical(k) for k in names]
        v = {}
        for i, n in enumerate(order):
            st = sd["state"].get(i)
            if st is None or "exp_avg_sq" not in st:
                v = None
                break
            v[n] = st["exp_avg_sq"]
            t = int(float(st["step"]))
    return params, v, t, beta2, eps, state


def run(msg, emit, stop):
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    from .train import SpecError, choose_precision, model_and_adapter

    for k in ("model_dir", "adapter_dir", "data_file"):
        if k not in msg:
            raise SpecError(f"attribute message lacks {k}")
    method = msg.get("method", "adam_cos_cp")
    if method not in METHODS:
        raise SpecError(f"attribution method {method!r} is not one the torch worker computes ({', '.join(METHODS)})")
    model_dir, adapter_dir = model_and_adapter(msg, "attribute", (), "; train the job first")
    max_len = int(msg.get("max_seq_len", 1024))
    lr0 = float(msg.get("learning_rate", 2e-4))
    with open(msg["data_file"], encoding="utf8") as f:
        data = json.load(f)
    if msg.get("threads"):
        torch.set_num_threads(int(msg["threads"]))
    device_type = "cuda" if torch.cuda.is_available() and msg.get("device", "auto") != "cpu" else "cpu"
    device = torch.device("cuda" if device_type == "cuda" else "cpu")
    precision = choose_precision(msg.get("precision", "auto"), device_type, torch)
    dtype = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}[precision]
    t0 = time.time()

    enc = RecordEncoder(model_dir)

    def usable(ex):
        return any(f for f in ex[1][1:])

    def prepared(examples):
        # lossGradient: truncated to the max length, only examples with a target left
        out = [(ids[:max_len], flags[:max_len]) for ids, flags in examples]
        return [e for e in out if usable(e)]

    contributions = [prepared([e for e in (enc.encode_record(r) for r in recs) if usable(e)]) for recs in data["contributions"]]
    queries = [prepared([enc.encode_record(r)]) for r in data["queries"]]
    pad_id = enc.tok.pad_token_id if enc.tok.pad_token_id is not None else (enc.eos_id or 0)

    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=dtype if not msg.get("quantize") else torch.float32)
    if msg.get("quantize"):
        from .nf4 import quantize_model

        quantize_model(model, dtype)
    model = PeftModel.from_pretrained(model, adapter_dir, is_trainable=True)
    model.to(device)
    model.eval()  # no dropout: the engine's gradients have none
    model.config.use_cache = False
    named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    for _, p in named:
        p.data = p.data.float()
    names = [n for n, _ in named]
    params = [p for _, p in named]
    final = {canonical(n): p.detach().clone() for n, p in named}
    autocast = torch.autocast(device_type=device_type, dtype=dtype, enabled=precision != "fp32")

    cp = method.endswith("_cp")
    checkpoints = []  # (params by canonical name, preconditioner flat or None, lr, step)
    ckpt_dir = os.path.join(adapter_dir, "checkpoints")
    picked = pick_checkpoints(ckpt_dir, int(msg.get("checkpoints", CHECKPOINTS))) if cp else []
    prev = 0
    for name_ in picked:
        ps, v, t, beta2, eps, state = read_checkpoint(os.path.join(ckpt_dir, name_), names)
        lrs = [h["lr"] for h in state.get("lossHistory", [])[prev:state["step"]]]
        pre = None
        if v is not None:
            bc2 = 1 - beta2 ** max(1, t)
            pre = torch.cat([(1 / (torch.sqrt(v[canonical(n)].double().reshape(-1) / bc2) + eps)).float() for n in names])
        checkpoints.append((ps, pre, sum(lrs) / len(lrs) if lrs else lr0, state["step"]))
        prev = state["step"]
    if not checkpoints:
        checkpoints = [(final, None, lr0, None)]
    used = method
    if method.startswith("adam_") and any(c[1] is None for c in checkpoints):
        used = "grad_cos_cp" if method == "adam_cos_cp" else "tracin_cp"

    def gradient(examples):
        """(flat float32 gradient of the examples' mean target-token loss, target tokens); held in float32 as the
        engine holds its gradients, the dot products and norms taken in float64."""
        from .data import collate

        for p in params:
            p.grad = None
        tokens = sum(sum(1 for f in e[1][1:] if f) for e in examples)
        if tokens == 0:
            return None, 0
        for i in range(0, len(examples), BATCH):
            rows = list(range(i, min(len(examples), i + BATCH)))
            ids, mask, tgt = collate(examples, rows, pad_id, device)
            with autocast:
                logits = model(input_ids=ids, attention_mask=mask).logits[:, :-1]
            ce = torch.nn.functional.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), tgt.reshape(-1), ignore_index=-100, reduction="sum")
            (ce / tokens).backward()
        g = torch.cat([p.grad.detach().reshape(-1).float() for p in params])
        return g, tokens

    N, Q, K = len(contributions), len(queries), len(checkpoints)
    scores = [[0.0] * N for _ in range(Q)]
    total, done = K * (N + Q), 0
    tokens_of = [0] * N
    steps = []
    for k, (ps, pre, lr, step) in enumerate(checkpoints):
        with torch.no_grad():
            for n, p in zip(names, params):
                src = ps.get(canonical(n))
                if src is None or src.numel() != p.numel():
                    raise DataError(f"checkpoint at step {step} does not match the adapter's parameters ({canonical(n)})")
                p.copy_(src.reshape(p.shape).to(p.device, p.dtype))
        steps.append({"step": step, "lr": lr})
        gq = []
        for q in queries:
            if stop.is_set():
                raise AttributionStopped("attribution was stopped; it starts over on the next attempt")
            g, _ = gradient(q)
            gq.append(g)
            done += 1
            emit({"type": "attribution_progress", "done": done, "total": total})
        nq = [float(g.double().norm()) if g is not None else 0.0 for g in gq]
        weight = 1.0 if used == "tracin_last" else lr
        for c, exs in enumerate(contributions):
            if stop.is_set():
                raise AttributionStopped("attribution was stopped; it starts over on the next attempt")
            g, tokens = gradient(exs)
            tokens_of[c] = tokens
            done += 1
            emit({"type": "attribution_progress", "done": done, "total": total})
            if g is None:
                continue
            G = g * tokens
            if used.startswith("adam_"):
                G = G * pre.to(G.device)
            G = G.double()
            nG = float(G.norm())
            for qi, v in enumerate(gq):
                if v is None:
                    continue
                d = float(torch.dot(v.double(), G))
                if used.endswith("cos_cp"):
                    d = d / (nq[qi] * nG) if nq[qi] and nG else 0.0
                scores[qi][c] += weight * d
    out = {"type": "attributed", "method": used, "totals": [sum(row[c] for row in scores) for c in range(N)],
           "tokens": tokens_of, "checkpoints": steps, "seconds": time.time() - t0, "device": str(device), "precision": precision}
    if msg.get("per_query"):
        out["scores"] = scores
    return out
