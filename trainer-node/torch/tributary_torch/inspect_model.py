"""What the node needs to know about a model before it claims a job on it, without loading its weights:
the architecture, the parameter count and the names of its Linear (and GPT-2 Conv1D) layers (LoRA's possible targets), from
the model built on the meta device (no memory for weights, a second or two for a 7B config)."""
import json
import os


def inspect(model_dir):
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM
    from transformers.pytorch_utils import Conv1D

    from .train import SpecError

    if not os.path.exists(os.path.join(model_dir, "config.json")):
        raise SpecError(f"{model_dir} is not a model folder (no config.json)")
    config = AutoConfig.from_pretrained(model_dir)
    try:
        with torch.device("meta"):
            model = AutoModelForCausalLM.from_config(config)
    except ValueError as e:
        raise SpecError(f"transformers cannot build a causal LM from {model_dir}/config.json ({config.model_type}): {str(e).splitlines()[0]}") from None
    linear = set()
    for name, module in model.named_modules():
        # Linear, and GPT-2-style Conv1D (PEFT's LoRA targets both)
        if isinstance(module, (torch.nn.Linear, Conv1D)) and name.split(".")[-1] != "lm_head":
            linear.add(name.split(".")[-1])
    text = config.get_text_config() if hasattr(config, "get_text_config") else config
    return {
        "type": "inspected",
        "model_type": config.model_type,
        "architectures": list(getattr(config, "architectures", None) or []),
        "params": sum(p.numel() for p in model.parameters()),
        "linear_modules": sorted(linear),
        "hidden_size": getattr(text, "hidden_size", None),
        "num_layers": getattr(text, "num_hidden_layers", None),
        "context_length": getattr(text, "max_position_embeddings", None),
    }


if __name__ == "__main__":
    import sys

    print(json.dumps(inspect(sys.argv[1])))
