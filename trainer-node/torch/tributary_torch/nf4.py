"""NF4 quantization of a frozen base in the engine's layout (engine/src/quant/nf4.ts), byte for byte:

  - blocks of 64 consecutive values of the row-major [rows, cols] matrix; absmax per block;
  - double quantization: offset = f32(mean of the absmax values, summed in order in f64); per group of 256
    blocks scale = f32(max |absmax - offset|), code = round_half_up((absmax - offset) / scale * 127) as int8;
  - each value's 4-bit code = the nearest of the 16 NF4 levels to x / s (the f32 midpoints between levels
    decide), s = code * scale / 127 + offset in f64; two codes per byte, even index in the low nibble.
Dequantized value = f32(level[code] * s). A QLoRA job therefore trains on the same quantized base on the
CPU engine and on torch (CPU or CUDA), and an adapter trained on one serves on the other.

Quantized layers keep their nn.Linear / nn.Embedding type (so PEFT targets them as usual) but hold the
packed codes instead of a weight; `weight` is computed when read, and forward dequantizes in the compute dtype.
"""
import torch
import torch.nn.functional as F
from torch import nn

NF4_LEVELS = [
    -1.0, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453, -0.28444138169288635,
    -0.18477343022823334, -0.09105003625154495, 0.0, 0.07958029955625534, 0.16093020141124725,
    0.24611230194568634, 0.33791524171829224, 0.44070982933044434, 0.5626170039176941,
    0.7229568362236023, 1.0,
]
BLOCK = 64
ABSMAX_BLOCK = 256
DENSE_CHUNK = 1 << 22  # values dequantized at a time (a multiple of BLOCK * ABSMAX_BLOCK)
_LEVELS32 = torch.tensor(NF4_LEVELS, dtype=torch.float32)
# the engine's midpoints: computed in f64, stored in a Float32Array
_MIDPOINTS = ((_LEVELS32[1:].double() + _LEVELS32[:-1].double()) / 2).float().double()


def _round_half_up(x):
    r = torch.floor(x)
    return r + ((x - r) >= 0.5).to(x.dtype)


def quantize(w):
    """w [rows, cols] (any float dtype; read as f32) -> (codes uint8 [ceil(n/2)], absmax_codes int8 [blocks],
    scales f32 [groups], offset f32 scalar tensor)."""
    w = w.detach().to("cpu", torch.float32).reshape(-1)
    n = w.numel()
    nb = (n + BLOCK - 1) // BLOCK
    padded = torch.zeros(nb * BLOCK, dtype=torch.float32)
    padded[:n] = w
    absmax = padded.abs().reshape(nb, BLOCK).amax(dim=1).double()  # padding zeros never raise a max
    offset = torch.tensor(float(torch.cumsum(absmax, 0)[-1] / nb), dtype=torch.float32)  # sequential f64 sum, as JS
    ng = (nb + ABSMAX_BLOCK - 1) // ABSMAX_BLOCK
    centred = absmax - offset.double()
    gpad = torch.zeros(ng * ABSMAX_BLOCK, dtype=torch.float64)
    gpad[:nb] = centred.abs()
    scales = gpad.reshape(ng, ABSMAX_BLOCK).amax(dim=1).float()
    group_scale = scales.double().repeat_interleave(ABSMAX_BLOCK)[:nb]
    safe = torch.where(group_scale > 0, group_scale, torch.ones_like(group_scale))
    qabs = torch.where(group_scale > 0, _round_half_up(centred / safe * 127), torch.zeros_like(centred)).to(torch.int8)
    scale = qabs.double() * group_scale / 127 + offset.double()
    inv = torch.where(scale > 0, 1 / torch.where(scale > 0, scale, torch.ones_like(scale)), torch.zeros_like(scale))
    x = padded[:n].double() * inv.repeat_interleave(BLOCK)[:n]
    idx = torch.searchsorted(_MIDPOINTS, x, right=False).to(torch.uint8)  # count of midpoints < x
    if n % 2:
        idx = torch.cat([idx, torch.zeros(1, dtype=torch.uint8)])
    pairs = idx.reshape(-1, 2)
    codes = pairs[:, 0] | (pairs[:, 1] << 4)
    return codes.contiguous(), qabs.contiguous(), scales.contiguous(), offset


def dequantize(codes, absmax_codes, scales, offset, n, dtype=torch.float32, rows=None):
    """The f32 values (cast to dtype) of the first n elements, or of whole rows `rows` (each row a whole
    number of blocks) of a [*, n / len(rows)] matrix."""
    device = codes.device
    levels = _LEVELS32.to(device).double()
    lo = (codes & 15).long()
    hi = (codes >> 4).long()
    vals = torch.stack([levels[lo], levels[hi]], dim=1).reshape(-1)[:n]
    nb = absmax_codes.numel()
    s = absmax_codes.double() * scales.double().repeat_interleave(ABSMAX_BLOCK)[:nb] / 127 + offset.double().to(device)
    out = (vals.reshape(-1) * s.repeat_interleave(BLOCK)[:n]).float()
    return out.to(dtype)


class Nf4Weight(nn.Module):
    """The packed codes of one [rows, cols] matrix (buffers: they move with .to() and are never trained)."""

    def __init__(self, w):
        super().__init__()
        self.rows, self.cols = w.shape
        codes, qabs, scales, offset = quantize(w)
        self.register_buffer("codes", codes)
        self.register_buffer("absmax_codes", qabs)
        self.register_buffer("scales", scales)
        self.register_buffer("offset", offset)

    def dense(self, dtype=torch.float32, chunk=DENSE_CHUNK):
        """The matrix in `dtype`: dequantized in f64 on the device, rounded to f32 (the engine's values), then
        cast. Done `chunk` elements at a time (a whole number of absmax groups), so the f64 and index
        temporaries stay small: whole, they came to ~40 bytes a value (2.5 GB for a 32000 x 2048 head), at the
        moment the forward's activations peak."""
        n = self.rows * self.cols
        if n <= chunk:
            return dequantize(self.codes, self.absmax_codes, self.scales, self.offset, n, dtype).reshape(self.rows, self.cols)
        group = BLOCK * ABSMAX_BLOCK
        chunk -= chunk % group
        out = torch.empty(n, dtype=dtype, device=self.codes.device)
        for start in range(0, n, chunk):
            m = min(chunk, n - start)
            b0, g0 = start // BLOCK, start // group
            nb = (m + BLOCK - 1) // BLOCK
            out[start:start + m] = dequantize(self.codes[start // 2:(start + m + 1) // 2], self.absmax_codes[b0:b0 + nb],
                                              self.scales[g0:g0 + (nb + ABSMAX_BLOCK - 1) // ABSMAX_BLOCK], self.offset, m, dtype)
        return out.reshape(self.rows, self.cols)

    def dense_rows(self, ids, dtype):
        """Rows `ids` only (embedding lookups), when a row is whole blocks; else the whole matrix."""
        if self.cols % BLOCK or self.cols % 2:
            return F.embedding(ids, self.dense(dtype))
        flat = ids.reshape(-1)
        codes = self.codes.reshape(self.rows, self.cols // 2)[flat].reshape(-1)
        bpr = self.cols // BLOCK
        block_ids = (flat[:, None] * bpr + torch.arange(bpr, device=flat.device)[None, :]).reshape(-1)
        s = self.absmax_codes.double()[block_ids] * self.scales.double()[block_ids // ABSMAX_BLOCK] / 127 + self.offset.double()
        levels = _LEVELS32.to(codes.device).double()
        vals = torch.stack([levels[(codes & 15).long()], levels[(codes >> 4).long()]], dim=1).reshape(-1)
        out = (vals * s.repeat_interleave(BLOCK)).float().to(dtype)
        return out.reshape(*ids.shape, self.cols)


class _Nf4Matmul(torch.autograd.Function):
    """y = x W^T + b over a frozen NF4 W that autograd does not keep: the backward dequantizes W again for the
    input's gradient (W and b take none), as bitsandbytes' 4-bit matmul does. With plain F.linear over the
    dequantized W, autograd saved every layer's dense W for the backward, so a QLoRA step held the whole base in
    the compute dtype on top of its codes (measured on an H200: QLoRA's peak 1.07x LoRA's, bench/results/gpu.json)."""

    @staticmethod
    def forward(ctx, x, q, bias):
        w = q.dense(x.dtype)
        ctx.q, ctx.dtype = q, x.dtype
        return F.linear(x, w, bias)

    @staticmethod
    def backward(ctx, grad):
        if not ctx.needs_input_grad[0]:
            return None, None, None
        return grad.to(ctx.dtype) @ ctx.q.dense(ctx.dtype), None, None


class Nf4Linear(nn.Linear):
    """nn.Linear over an NF4 weight: the weight is dequantized in the input's dtype at each forward (and again
    in the backward, rather than kept)."""

    def __init__(self, linear, q=None):
        nn.Module.__init__(self)
        self.in_features, self.out_features = linear.in_features, linear.out_features
        self.q = q if q is not None else Nf4Weight(linear.weight)
        self.bias = None if linear.bias is None else nn.Parameter(linear.bias.detach().float(), requires_grad=False)

    @property
    def weight(self):
        return self.q.dense()

    def forward(self, x):
        if torch.is_autocast_enabled(x.device.type):
            x = x.to(torch.get_autocast_dtype(x.device.type))
        return _Nf4Matmul.apply(x, self.q, None if self.bias is None else self.bias.to(x.dtype))


class Nf4Embedding(nn.Embedding):
    def __init__(self, emb, q=None):
        nn.Module.__init__(self)
        self.num_embeddings, self.embedding_dim = emb.num_embeddings, emb.embedding_dim
        self.padding_idx, self.max_norm, self.norm_type, self.scale_grad_by_freq, self.sparse = emb.padding_idx, None, 2.0, False, False
        self.q = q if q is not None else Nf4Weight(emb.weight)
        self.out_dtype = torch.float32

    @property
    def weight(self):
        return self.q.dense()

    def forward(self, ids):
        return self.q.dense_rows(ids, self.out_dtype)


def quantize_model(model, compute_dtype):
    """Replaces the linear layers, the input embedding and the output head of `model` with NF4 ones in place
    (a tied head shares the embedding's codes, as the engine's does). Returns the number of quantized matrices."""
    emb = model.get_input_embeddings()
    head = model.get_output_embeddings()
    tied = head is not None and head.weight is emb.weight
    n = 0
    q_emb = Nf4Embedding(emb)
    q_emb.out_dtype = compute_dtype
    n += 1
    replace = {}
    for name, mod in model.named_modules():
        if isinstance(mod, nn.Linear) and not isinstance(mod, Nf4Linear) and mod is not head:
            replace[name] = Nf4Linear(mod)
            n += 1
    if head is not None:
        replace_head = Nf4Linear(head, q_emb.q if tied else None)
        n += 0 if tied else 1
    for name, new in replace.items():
        parent, _, attr = name.rpartition(".")
        setattr(model.get_submodule(parent) if parent else model, attr, new)
    model.set_input_embeddings(q_emb)
    if head is not None:
        model.set_output_embeddings(replace_head)
    for p in model.parameters():
        p.requires_grad_(False)
    return n
