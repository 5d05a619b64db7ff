"""`generate`: text generation with a base (optionally NF4-quantized as for QLoRA) and a PEFT adapter, streamed token
by token, for serving models the engine cannot load.

The prompt is token ids, a text, or chat messages (rendered by the tokenizer's chat template with the generation
prompt). Decoding: greedy at temperature 0, else softmax(logits / temperature) cut to the smallest set of tokens
whose probability reaches top_p, sampled from a torch.Generator seeded with `seed`. It ends at an end-of-sequence
token (not part of the text), at a stop string (cut before it; text that might begin a stop string is held back
until it cannot), at max_tokens, or at a cancel line. Each step emits the new token id and the text it completes
(a token that ends inside a UTF-8 character waits for the next one).

Loaded models are kept (the last two base/adapter/nf4/precision combinations), so a served model loads once.
"""
import os
import time
from collections import OrderedDict

_models = OrderedDict()
KEEP = 2


def _load(model_dir, adapter_dir, nf4, precision, device):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    key = (model_dir, adapter_dir, bool(nf4), precision, str(device))
    if key in _models:
        _models.move_to_end(key)
        return _models[key]
    dtype = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}[precision]
    tok = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32 if nf4 else dtype)
    if nf4:
        from .nf4 import quantize_model

        quantize_model(model, dtype)
    if adapter_dir:
        from peft import PeftModel

        model = PeftModel.from_pretrained(model, adapter_dir)
    model.to(device).eval()
    eos = set()
    for src in (getattr(model, "generation_config", None), model.config):
        e = getattr(src, "eos_token_id", None) if src is not None else None
        eos.update(e if isinstance(e, (list, tuple)) else [e] if e is not None else [])
    if tok.eos_token_id is not None:
        eos.add(tok.eos_token_id)
    _models[key] = (model, tok, eos)
    while len(_models) > KEEP:
        _models.popitem(last=False)
    return _models[key]


def _prompt_ids(msg, tok):
    from .train import SpecError

    if "prompt_ids" in msg:
        return [int(i) for i in msg["prompt_ids"]]
    if "messages" in msg:
        if not tok.chat_template:
            raise SpecError("the model's tokenizer has no chat template; send prompt or prompt_ids")
        text = tok.apply_chat_template(msg["messages"], tokenize=False, add_generation_prompt=True)
        return tok.encode(text, add_special_tokens=False)
    if "prompt" in msg:
        return tok.encode(msg["prompt"], add_special_tokens=True)
    raise SpecError("generate needs prompt_ids, messages or prompt")


def _pick(logits, temperature, top_p, gen):
    import torch

    if temperature <= 0:
        return int(torch.argmax(logits))
    probs = torch.softmax(logits.float() / temperature, dim=-1)
    if top_p < 1:
        sorted_p, idx = torch.sort(probs, descending=True)
        keep = torch.cumsum(sorted_p, 0) - sorted_p < top_p  # the smallest prefix reaching top_p
        keep[0] = True
        sorted_p = torch.where(keep, sorted_p, torch.zeros_like(sorted_p))
        return int(idx[torch.multinomial(sorted_p / sorted_p.sum(), 1, generator=gen)])
    return int(torch.multinomial(probs, 1, generator=gen))


def run(msg, emit, stop):
    import torch

    from .train import SpecError, choose_precision

    if "model_dir" not in msg:
        raise SpecError("generate message lacks model_dir")
    if not os.path.isfile(os.path.join(msg["model_dir"], "config.json")):
        raise SpecError(f"{msg['model_dir']} is not a model folder (no config.json)")
    adapter_dir = msg.get("adapter_dir")
    if adapter_dir and not os.path.isfile(os.path.join(adapter_dir, "adapter_config.json")):
        raise SpecError(f"{adapter_dir} holds no adapter (no adapter_config.json)")
    max_tokens = int(msg.get("max_tokens", 256))
    temperature = float(msg.get("temperature", 0))
    top_p = float(msg.get("top_p", 1))
    if max_tokens < 1 or temperature < 0 or not 0 < top_p <= 1:
        raise SpecError("max_tokens must be at least 1, temperature at least 0 and top_p in (0, 1]")
    stops = [s for s in msg.get("stop", []) if s]
    if msg.get("threads"):
        torch.set_num_threads(int(msg["threads"]))
    device_type = "cuda" if torch.cuda.is_available() and msg.get("device", "auto") != "cpu" else "cpu"
    device = torch.device(device_type)
    precision = choose_precision(msg.get("precision", "auto"), device_type, torch)
    t0 = time.time()
    model, tok, eos = _load(msg["model_dir"], adapter_dir, msg.get("nf4", False), precision, device)
    prompt = _prompt_ids(msg, tok)
    if not prompt:
        raise SpecError("the prompt is empty")
    gen = torch.Generator(device="cpu").manual_seed(int(msg.get("seed", 0)))
    rid = msg.get("id")
    out_ids, text, sent, finish = [], "", 0, "length"
    hold = max((len(s) for s in stops), default=1) - 1
    past = None
    inp = torch.tensor([prompt], device=device)
    with torch.no_grad():
        for _ in range(max_tokens):
            if stop.is_set():
                finish = "cancelled"
                break
            o = model(input_ids=inp, past_key_values=past, use_cache=True)
            past = o.past_key_values
            t = _pick(o.logits[0, -1].to("cpu"), temperature, top_p, gen)
            if t in eos:
                finish = "stop"
                break
            out_ids.append(t)
            inp = torch.tensor([[t]], device=device)
            text = tok.decode(out_ids, skip_special_tokens=True)
            cut = min((text.find(s) for s in stops if s in text), default=-1)
            if cut >= 0:
                text = text[:cut]
                finish = "stop"
            # hold back an unfinished UTF-8 character and what could still become a stop string
            ready = len(text) if cut >= 0 else len(text) - (1 if text.endswith("\ufffd") else 0) - hold
            delta = text[sent:max(sent, ready)]
            emit({"type": "token", "id": rid, "token_id": t, "text": delta})
            sent += len(delta)
            if cut >= 0:
                break
    if sent < len(text):  # what was held back (an end of sequence, the length limit or a cancel came first)
        tail = text[sent:]
        emit({"type": "token", "id": rid, "token_id": None, "text": tail})
    return {"type": "generated", "id": rid, "finish_reason": finish, "prompt_tokens": len(prompt), "completion_tokens": len(out_ids),
            "token_ids": out_ids, "text": text, "seconds": time.time() - t0}
