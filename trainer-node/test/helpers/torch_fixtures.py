"""Reference side of the torch backend tests (trainer-node/test/torch-*.test.ts), with transformers + PEFT.

  torch_fixtures.py make TOKENIZER_DIR OUT       random tiny llama / qwen2 / gemma models under OUT/<arch>,
                                                 with the tokenizer files of TOKENIZER_DIR
  torch_fixtures.py answer QUERIES.json OUT.json  greedy answers: [{base, adapter|null, nf4?, messages, max_new_tokens}]
                                                 -> [{ids, text}] (PeftModel.from_pretrained for adapters)
  torch_fixtures.py nf4 IN.safetensors OUT_DIR    the worker's NF4 packing of every tensor, as raw bytes
  torch_fixtures.py engine-checkpoints MODEL ADAPTER OUT  ADAPTER/checkpoints (the worker's) rewritten in the engine's layout
                                                 (params.safetensors, optimizer.safetensors, trainer_state.json)
  torch_fixtures.py qlora-backward MODEL OUT.json  QLoRA's backward vs the dense-weight reference: gradients, saved bytes

`make` takes an optional comma-separated list of architectures (default: all three).
"""
import json
import os
import shutil
import sys

import torch

TOKENIZER_FILES = ["tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "generation_config.json"]


def make(tok_dir, out, only=None):
    from transformers import GemmaConfig, GemmaForCausalLM, LlamaConfig, LlamaForCausalLM, Qwen2Config, Qwen2ForCausalLM

    common = dict(vocab_size=4096, hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
                  num_key_value_heads=2, max_position_embeddings=256, bos_token_id=0, eos_token_id=1, pad_token_id=2,
                  # weights of std ~1/sqrt(width) instead of 0.02: the layers then matter next to the embeddings and
                  # the logits can be confident, so a few LoRA steps can teach the model an answer
                  initializer_range=0.15)
    models = {
        "llama": (LlamaForCausalLM, LlamaConfig(**common, tie_word_embeddings=True)),
        "qwen2": (Qwen2ForCausalLM, Qwen2Config(**common, tie_word_embeddings=True)),  # q/k/v projections with bias
        "gemma": (GemmaForCausalLM, GemmaConfig(**common, head_dim=16)),
    }
    for i, (name, (cls, cfg)) in enumerate(models.items()):
        if only and name not in only:
            continue
        torch.manual_seed(100 + i)
        model = cls(cfg).float().eval()
        if name == "qwen2":
            assert model.model.layers[0].self_attn.q_proj.bias is not None, "Qwen2 must have q/k/v biases"
            with torch.no_grad():
                for layer in model.model.layers:
                    for p in ("q_proj", "k_proj", "v_proj"):
                        getattr(layer.self_attn, p).bias.normal_(0, 0.1)
        d = os.path.join(out, name)
        model.save_pretrained(d, safe_serialization=True)
        for f in TOKENIZER_FILES:
            shutil.copy(os.path.join(tok_dir, f), os.path.join(d, f))


def answer(queries_file, out_file):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    results = []
    for q in json.load(open(queries_file)):
        tok = AutoTokenizer.from_pretrained(q["base"])
        model = AutoModelForCausalLM.from_pretrained(q["base"], dtype=torch.float32)
        if q.get("nf4"):  # the QLoRA base: NF4-quantized as the worker (and the engine) does
            sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "torch"))
            from tributary_torch.nf4 import quantize_model

            quantize_model(model, torch.float32)
        if q.get("adapter"):
            model = PeftModel.from_pretrained(model, q["adapter"])
        model.eval()
        prompt = tok.apply_chat_template(q["messages"], tokenize=False, add_generation_prompt=True)
        ids = torch.tensor([tok.encode(prompt, add_special_tokens=False)])
        with torch.no_grad():
            out = model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), max_new_tokens=q["max_new_tokens"], do_sample=False,
                                 eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id)
        new = out[0, ids.shape[1]:].tolist()
        if new and new[-1] == tok.eos_token_id:
            new = new[:-1]
        results.append({"ids": new, "text": tok.decode(new, skip_special_tokens=True), "prompt_ids": ids[0].tolist()})
    json.dump(results, open(out_file, "w"))


def nf4(in_file, out_dir):
    """Quantizes every tensor of IN (safetensors, f32) with the worker's NF4; writes <name>.{codes,absmax,scales,offset}.bin."""
    from safetensors.torch import load_file

    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "torch"))
    from tributary_torch.nf4 import quantize

    os.makedirs(out_dir, exist_ok=True)
    for name, t in load_file(in_file).items():
        codes, qabs, scales, offset = quantize(t)
        for part, v in (("codes", codes), ("absmax", qabs), ("scales", scales), ("offset", offset.reshape(1))):
            with open(os.path.join(out_dir, f"{name}.{part}.bin"), "wb") as f:
                f.write(v.numpy().tobytes())


def engine_checkpoints(model_dir, adapter_dir, out_dir):
    """Each step folder of the worker's layout (adapter.safetensors with PEFT names, optimizer.pt) under ADAPTER/checkpoints
    rewritten in the engine's: flat F32 tensors under the engine's names, exp_avg/exp_avg_sq by name and the AdamW step
    count as metadata. The optimizer's parameter order is recovered as training made it (get_peft_model on the base)."""
    from peft import LoraConfig, get_peft_model
    from safetensors.torch import load_file, save_file
    from transformers import AutoModelForCausalLM

    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "torch"))
    from tributary_torch.attribution import canonical

    c = json.load(open(os.path.join(adapter_dir, "adapter_config.json")))
    model = get_peft_model(AutoModelForCausalLM.from_pretrained(model_dir), LoraConfig(r=c["r"], lora_alpha=c["lora_alpha"], target_modules=c["target_modules"], task_type="CAUSAL_LM"))
    names = [n for n, p in model.named_parameters() if p.requires_grad]
    in_dir = os.path.join(adapter_dir, "checkpoints")
    for step in sorted(os.listdir(in_dir)):
        src, dst = os.path.join(in_dir, step), os.path.join(out_dir, step)
        os.makedirs(dst, exist_ok=True)
        raw = load_file(os.path.join(src, "adapter.safetensors"))
        sd = torch.load(os.path.join(src, "optimizer.pt"), map_location="cpu", weights_only=True)
        params, opt = {}, {}
        t = 0
        for i, n in enumerate(names):
            c = canonical(n)
            params[c] = raw[n].float().reshape(-1).contiguous()
            st = sd["state"][i]
            assert st["exp_avg_sq"].shape == raw[n].shape, f"optimizer state {i} does not match {n}"
            opt[f"exp_avg.{c}"] = st["exp_avg"].float().reshape(-1).contiguous()
            opt[f"exp_avg_sq.{c}"] = st["exp_avg_sq"].float().reshape(-1).contiguous()
            t = int(float(st["step"]))
        save_file(params, os.path.join(dst, "params.safetensors"))
        save_file(opt, os.path.join(dst, "optimizer.safetensors"), metadata={"t": str(t)})
        shutil.copy(os.path.join(src, "trainer_state.json"), os.path.join(dst, "trainer_state.json"))


def qlora_backward(model_dir, out_file):
    """QLoRA's backward against the dense-weight reference, and what autograd keeps for it. On MODEL (fp32):
      - chunked dequantization (Nf4Weight.dense with a small chunk) equals the whole-matrix one, bit for bit;
      - one forward + backward of a QLoRA model (all-linear LoRA) with the worker's Nf4Linear, and the same with
        the reference forward F.linear(x, dense W): loss and LoRA gradients (max abs difference);
      - the bytes autograd saves for the backward outside the model's own parameters and buffers, in each, and in
        the same LoRA model on the unquantized base."""
    import torch.nn.functional as F
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "torch"))
    from tributary_torch import nf4

    def build(quant):
        torch.manual_seed(0)
        model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
        if quant:
            nf4.quantize_model(model, torch.float32)
        torch.manual_seed(1)
        model = get_peft_model(model, LoraConfig(r=4, lora_alpha=8, lora_dropout=0.0, target_modules="all-linear", task_type="CAUSAL_LM"))
        for n, p in model.named_parameters():
            if p.requires_grad:  # B starts at zero: give it values so every gradient path carries something
                torch.nn.init.normal_(p, std=0.02)
        return model

    def step(model):
        own = {t.untyped_storage().data_ptr() for t in list(model.parameters()) + list(model.buffers())}
        saved = []

        def pack(t):
            if t.untyped_storage().data_ptr() not in own:
                saved.append(t.untyped_storage().nbytes())
            return t

        ids = torch.arange(3, 3 + 2 * 48).reshape(2, 48) % model.config.vocab_size
        with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
            loss = model(input_ids=ids, labels=ids).loss
        loss.backward()
        grads = {n: p.grad.clone() for n, p in model.named_parameters() if p.requires_grad}
        return float(loss.detach()), grads, sum(saved)

    q = build(True)
    chunked_equal = True
    for m in q.modules():
        if isinstance(m, nf4.Nf4Weight):
            chunked_equal &= torch.equal(m.dense(torch.float32, chunk=nf4.BLOCK * nf4.ABSMAX_BLOCK), m.dense(torch.float32, chunk=1 << 40))
    loss_q, grads_q, saved_q = step(q)
    forward = nf4.Nf4Linear.forward
    nf4.Nf4Linear.forward = lambda self, x: F.linear(x, self.q.dense(x.dtype), None if self.bias is None else self.bias.to(x.dtype))
    try:
        loss_ref, grads_ref, saved_ref = step(build(True))
    finally:
        nf4.Nf4Linear.forward = forward
    _, _, saved_lora = step(build(False))
    diff = max(float((grads_q[n] - grads_ref[n]).abs().max()) for n in grads_q)
    scale = max(float(g.abs().max()) for g in grads_ref.values())
    dense_bytes = sum(m.rows * m.cols * 4 for m in q.modules() if isinstance(m, nf4.Nf4Weight))
    json.dump({"chunked_equal": bool(chunked_equal), "loss": loss_q, "loss_reference": loss_ref, "grad_max_abs_diff": diff, "grad_max_abs": scale,
               "grads": len(grads_q), "saved_bytes": saved_q, "saved_bytes_reference": saved_ref, "saved_bytes_lora": saved_lora,
               "dense_weight_bytes": dense_bytes}, open(out_file, "w"))


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "make":
        make(sys.argv[2], sys.argv[3], sys.argv[4].split(",") if len(sys.argv) > 4 else None)
    elif cmd == "engine-checkpoints":
        engine_checkpoints(sys.argv[2], sys.argv[3], sys.argv[4])
    elif cmd == "answer":
        answer(sys.argv[2], sys.argv[3])
    elif cmd == "nf4":
        nf4(sys.argv[2], sys.argv[3])
    elif cmd == "qlora-backward":
        qlora_backward(sys.argv[2], sys.argv[3])
    else:
        sys.exit(__doc__)
