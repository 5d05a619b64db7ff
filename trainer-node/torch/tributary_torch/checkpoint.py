"""Training checkpoints: everything needed to continue a run where it stopped, also after kill -9.

  <dir>/step-000012/adapter.safetensors   trainable (LoRA) tensors by name
  <dir>/step-000012/optimizer.pt          AdamW state (moments, step counts)
  <dir>/step-000012/scheduler.pt          LR scheduler state
  <dir>/step-000012/rng-<rank>.pt         torch CPU (and CUDA) and Python RNG states of each process
  <dir>/step-000012/trainer_state.json    step, data cursor (micro-batch index), tokens, histories, run config
A checkpoint is written to `<name>.tmp` and renamed into place, so a crash never leaves half of one behind
(the engine's layout and rule, engine/src/train/checkpoint.ts).
"""
import json
import os
import random
import re
import shutil


def name(step):
    return f"step-{step:06d}"


def latest(dir_):
    if not os.path.isdir(dir_):
        return None
    names = sorted(n for n in os.listdir(dir_) if re.fullmatch(r"step-\d+", n))
    return os.path.join(dir_, names[-1]) if names else None


def _rng_state():
    import torch

    s = {"torch": torch.get_rng_state(), "python": random.getstate()}
    if torch.cuda.is_available():
        s["cuda"] = torch.cuda.get_rng_state_all()
    return s


def _set_rng_state(s):
    import torch

    torch.set_rng_state(s["torch"])
    random.setstate(s["python"])
    if "cuda" in s and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(s["cuda"])


def _full(t):
    """A tensor whole: FSDP's sharded DTensors are gathered (a collective: every process calls it)."""
    return t.full_tensor() if hasattr(t, "full_tensor") else t


def full_params(params):
    return {k: _full(v.detach()).to("cpu").contiguous() for k, v in params.items()}


def _full_optimizer_state(optimizer):
    """The optimizer's state dict with every tensor whole: the one-process layout, whatever the sharding."""
    sd = optimizer.state_dict()
    return {"state": {i: {k: _full(v).to("cpu") if hasattr(v, "shape") and v.dim() > 0 else v for k, v in st.items()} for i, st in sd["state"].items()},
            "param_groups": sd["param_groups"]}


def save(dir_, state, params, optimizer, scheduler, dist):
    """Every process calls this; rank 0 writes the shared files and renames the folder into place."""
    import torch
    from safetensors.torch import save_file

    final = os.path.join(dir_, name(state["step"]))
    tmp = final + ".tmp"
    if dist.rank == 0:
        shutil.rmtree(tmp, ignore_errors=True)
        os.makedirs(tmp)
    dist.barrier()
    torch.save(_rng_state(), os.path.join(tmp, f"rng-{dist.rank}.pt"))
    full, opt_state = full_params(params), _full_optimizer_state(optimizer)
    dist.barrier()
    if dist.rank == 0:
        save_file(full, os.path.join(tmp, "adapter.safetensors"))
        torch.save(opt_state, os.path.join(tmp, "optimizer.pt"))
        torch.save(scheduler.state_dict(), os.path.join(tmp, "scheduler.pt"))
        with open(os.path.join(tmp, "trainer_state.json"), "w") as f:
            json.dump(state, f, indent=1)
        shutil.rmtree(final, ignore_errors=True)
        os.rename(tmp, final)
    dist.barrier()
    return final


def _like(full, p):
    """A whole tensor placed as the parameter `p` is: sharded the same way under FSDP, else on its device."""
    if hasattr(p, "device_mesh"):
        from torch.distributed.tensor import distribute_tensor

        return distribute_tensor(full.to(p.dtype), p.device_mesh, p.placements)
    return full.to(p.device, p.dtype)


class CheckpointMismatch(ValueError):
    """The checkpoint was made by another run configuration or process count (not transient)."""


def load(path, params, optimizer, scheduler, run, dist):
    """Restores params, optimizer, scheduler and this process's RNG in place; returns the trainer state."""
    import torch
    from safetensors.torch import load_file

    with open(os.path.join(path, "trainer_state.json")) as f:
        state = json.load(f)
    if state["run"] != run:
        raise CheckpointMismatch(f"checkpoint {path} was made by a different run configuration or data; resume with the same options and data, or remove {os.path.dirname(path)} to start fresh")
    rng = os.path.join(path, f"rng-{dist.rank}.pt")
    if not os.path.exists(rng) or os.path.exists(os.path.join(path, f"rng-{dist.world}.pt")):
        raise CheckpointMismatch(f"checkpoint {path} was made with another number of processes; resume with the same number")
    saved = load_file(os.path.join(path, "adapter.safetensors"))
    with torch.no_grad():
        for k, p in params.items():
            if k not in saved or saved[k].shape != p.shape:
                raise CheckpointMismatch(f"checkpoint {path} does not match the trainable parameters ({k})")
            p.copy_(_like(saved[k], p))
    opt = torch.load(os.path.join(path, "optimizer.pt"), map_location="cpu", weights_only=True)
    plist = list(params.values())
    for i, st in opt["state"].items():
        for k, v in st.items():
            if hasattr(v, "shape") and v.dim() > 0:
                st[k] = _like(v, plist[int(i)])
    optimizer.load_state_dict(opt)
    scheduler.load_state_dict(torch.load(os.path.join(path, "scheduler.pt"), weights_only=True))
    _set_rng_state(torch.load(rng, weights_only=False))
    return state
