"""Reference side of test/hf-parity.test.ts: transformers + PEFT on a small random Llama.

  hf_parity.py make OUT              base model, PEFT adapter, reference logits / loss / LoRA gradients
  hf_parity.py peft-logits BASE ADAPTER INPUTS OUT   logits of BASE + ADAPTER (PeftModel.from_pretrained)
"""
import json
import sys

import torch
from peft import LoraConfig, PeftModel, get_peft_model
from safetensors.torch import save_file
from transformers import LlamaConfig, LlamaForCausalLM


def make(out):
    torch.manual_seed(0)
    cfg = LlamaConfig(vocab_size=64, hidden_size=32, intermediate_size=48, num_hidden_layers=2,
                      num_attention_heads=4, num_key_value_heads=2, rms_norm_eps=1e-5, rope_theta=10000.0,
                      max_position_embeddings=64, tie_word_embeddings=False, bos_token_id=1, eos_token_id=2)
    model = LlamaForCausalLM(cfg).float().eval()
    with torch.no_grad():
        for p in model.parameters():
            if p.dim() == 2:
                p.normal_(0, 0.2)
            else:
                p.uniform_(0.5, 1.5)
    model.save_pretrained(out + "/base", safe_serialization=True)
    ids = torch.tensor([[1, 5, 9, 33, 7, 12, 60, 3, 4, 20, 41, 8]])
    labels = ids.clone()
    labels[0, :4] = -100
    with torch.no_grad():
        base_logits = model(ids).logits[0]
    lcfg = LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj", "down_proj"], lora_dropout=0.0,
                      task_type="CAUSAL_LM", use_rslora=True)
    pm = get_peft_model(model, lcfg)
    with torch.no_grad():
        for n, p in pm.named_parameters():
            if "lora_B" in n:
                p.normal_(0, 0.1)
    res = pm(input_ids=ids, labels=labels)
    res.loss.backward()
    tensors = {"base_logits": base_logits.contiguous(), "lora_logits": res.logits[0].detach().contiguous(),
               "loss": res.loss.detach().reshape(1)}
    for n, p in pm.named_parameters():
        if p.requires_grad:
            tensors["grad." + n.replace(".default", "")] = p.grad.detach().contiguous()
    pm.save_pretrained(out + "/adapter")
    save_file(tensors, out + "/ref.safetensors")
    with open(out + "/inputs.json", "w") as f:
        json.dump({"ids": ids[0].tolist(), "labels": labels[0].tolist()}, f)


def peft_logits(base, adapter, inputs, out):
    model = LlamaForCausalLM.from_pretrained(base).float().eval()
    pm = PeftModel.from_pretrained(model, adapter).eval()
    with open(inputs) as f:
        ids = torch.tensor([json.load(f)["ids"]])
    with torch.no_grad():
        logits = pm(input_ids=ids).logits[0]
    save_file({"logits": logits.contiguous()}, out)


if __name__ == "__main__":
    if sys.argv[1] == "make":
        make(sys.argv[2])
    else:
        peft_logits(*sys.argv[2:6])
