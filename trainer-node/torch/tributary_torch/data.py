"""Training records -> token ids with a per-token "train on this" flag -> micro-batches.

The encoding is the engine's (engine/src/train/data.ts, engine/src/model/tokenizer.ts encodeChat), so a
record means the same tokens and the same loss mask on both backends:
  - {"messages": [...]}: the chat template renders each prefix of the conversation; the pieces between
    renders are encoded on their own (no special tokens added). The piece that an assistant turn adds
    (its content and the template's closing tokens) is trained on; everything else is context.
  - {"prompt", "completion"}: BOS (when the tokenizer adds one) + prompt as context, completion + EOS trained.
  - {"text"}: BOS + text + EOS, every token after BOS trained.
Targets: position t predicts ids[t+1] when train[t+1] (the engine's makeBatch); padding is never a target.
"""
import json
import os
import random


class DataError(ValueError):
    """The records cannot be trained as given (not transient)."""


def read_records(path):
    if not os.path.exists(path):
        raise DataError(f"records file {path} does not exist")
    out = []
    with open(path, encoding="utf8") as f:
        for i, line in enumerate(f):
            if not line.strip():
                continue
            try:
                r = json.loads(line)
            except json.JSONDecodeError:
                raise DataError(f"{path} line {i + 1} is not JSON; write one JSON object per line") from None
            ok = (isinstance(r, dict) and (
                (isinstance(r.get("messages"), list) and all(isinstance(m, dict) and isinstance(m.get("role"), str) and isinstance(m.get("content"), str) for m in r["messages"]))
                or (isinstance(r.get("prompt"), str) and isinstance(r.get("completion"), str))
                or isinstance(r.get("text"), str)))
            if not ok:
                raise DataError(f'{path} line {i + 1}: record has no known shape; use {{"messages":[{{"role","content"}}]}}, {{"prompt","completion"}} or {{"text"}}')
            out.append(r)
    return out


def _token_text(t):
    if isinstance(t, str):
        return t
    if isinstance(t, dict) and isinstance(t.get("content"), str):
        return t["content"]
    return None


class RecordEncoder:
    """The engine's ChatTokenizer semantics on top of a transformers tokenizer loaded from the model folder."""

    def __init__(self, model_dir):
        from transformers import AutoTokenizer

        self.tok = AutoTokenizer.from_pretrained(model_dir)
        cfg_path = os.path.join(model_dir, "tokenizer_config.json")
        cfg = json.load(open(cfg_path, encoding="utf8")) if os.path.exists(cfg_path) else {}
        bos = _token_text(cfg.get("bos_token"))
        eos = _token_text(cfg.get("eos_token"))
        self.bos_id = self._id(bos)
        self.eos_id = self._id(eos)
        self.add_bos = self.bos_id is not None and cfg.get("add_bos_token") is not False
        self.bos_token = bos or ""
        self.eos_token = eos or ""

    def _id(self, token):
        if token is None:
            return None
        i = self.tok.convert_tokens_to_ids(token)
        return None if i is None or i == self.tok.unk_token_id and token != self.tok.unk_token else i

    def encode(self, text, bos=False):
        ids = self.tok.encode(text, add_special_tokens=False) if text else []
        return ([self.bos_id] if bos and self.bos_id is not None else []) + list(ids)

    def render(self, messages, add_generation_prompt=False):
        if not self.tok.chat_template:
            raise DataError("the tokenizer has no chat template; add chat_template to tokenizer_config.json, or use prompt/completion records")
        return self.tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=add_generation_prompt,
                                            bos_token=self.bos_token, eos_token=self.eos_token)

    def encode_chat(self, messages):
        ids, train = [], []
        prev = ""

        def push(text, flag):
            nonlocal prev
            if not text.startswith(prev):
                raise DataError("chat template output is not incremental: renders of a conversation's prefixes must be prefixes of each other")
            piece = self.encode(text[len(prev):])
            ids.extend(piece)
            train.extend([flag] * len(piece))
            prev = text

        for i, m in enumerate(messages):
            if m["role"] != "assistant":
                continue
            push(self.render(messages[:i], add_generation_prompt=True), False)
            push(self.render(messages[:i + 1]), True)
        push(self.render(messages), False)
        return ids, train

    def encode_record(self, r):
        if "messages" in r:
            if not any(m["role"] == "assistant" for m in r["messages"]):
                raise DataError("chat record has no assistant message to train on")
            return self.encode_chat([{"role": m["role"], "content": m["content"]} for m in r["messages"]])
        eos = [] if self.eos_id is None else [self.eos_id]
        if "prompt" in r:
            p = self.encode(r["prompt"], bos=self.add_bos)
            c = self.encode(r["completion"]) + eos
            return p + c, [False] * len(p) + [True] * len(c)
        ids = self.encode(r["text"], bos=self.add_bos) + eos
        return ids, [i > 0 or not self.add_bos for i in range(len(ids))]


def trainable(examples, max_len):
    """Truncated to max_len; only examples with a target left (a trained token after position 0)."""
    out = [(ids[:max_len], flags[:max_len]) for ids, flags in examples]
    out = [e for e in out if any(f for f in e[1][1:])]
    if not out:
        raise DataError(f"no example has a token to train on ({len(examples)} examples); check the records and max_seq_length")
    return out


def plan(n_examples, batch_size, epochs, seed):
    """Micro-batches of example indices for the whole run, in order: every epoch's order is a seeded shuffle.
    A fractional epoch count trains the first part of the last epoch's order."""
    import math

    out = []
    whole = math.ceil(epochs)
    for epoch in range(whole):
        order = list(range(n_examples))
        random.Random(f"{seed}/data-order/{epoch}").shuffle(order)
        batches = [order[i:i + batch_size] for i in range(0, n_examples, batch_size)]
        if epoch == whole - 1 and epochs != whole:
            batches = batches[:max(1, round((epochs - epoch) * len(batches)))]
        out.extend(batches)
    return out


def count_targets(examples, rows):
    return sum(sum(1 for f in examples[i][1][1:] if f) for i in rows)


def collate(examples, rows, pad_id, device):
    """input_ids, attention_mask, targets ([B, T-1], -100 where no loss) for these example indices,
    right-padded to the longest row."""
    import torch

    T = max(len(examples[i][0]) for i in rows)
    ids = torch.full((len(rows), T), pad_id, dtype=torch.long)
    mask = torch.zeros((len(rows), T), dtype=torch.long)
    targets = torch.full((len(rows), T), -100, dtype=torch.long)
    for b, i in enumerate(rows):
        e_ids, e_train = examples[i]
        n = len(e_ids)
        ids[b, :n] = torch.tensor(e_ids)
        mask[b, :n] = 1
        targets[b, :n] = torch.tensor([t if f else -100 for t, f in zip(e_ids, e_train)])
    return ids.to(device), mask.to(device), targets[:, 1:].contiguous().to(device)
