#!/usr/bin/env python3
"""PyTorch side of `stepvideo bench train`.

One flow-matching training step of the Step-Video DiT in float32 on the CPU
(forward, mean-squared-error loss, backward with autograd; no optimizer step),
with the same shape flags, the same inputs and the same FLOP count as the C++
command (src/cli/cmd_bench_train.cpp), so the two can be timed side by side:

    OMP_NUM_THREADS=2 ./build/stepvideo bench train
    python3 bench/train_torch.py --threads 2

The model below is written for this benchmark and follows the C++ DiT
(src/models/dit/): patch size 1, 64 latent channels, LLM text only (no clip
projection), a mask of ones, t = 0.7 for every sample, random weights.
Prints one JSON line on stdout; progress goes to stderr. Depends only on torch.
"""

import argparse
import json
import math
import os
import resource
import statistics
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.utils.checkpoint

HEAD_DIM = 128
TIMESTEP_CHANNELS = 256  # sinusoid width of the AdaLN-single embedder
LATENT_CHANNELS = 64
MODEL_NORM_EPS = 1e-6  # config.norm_eps: caption LayerNorm and norm_out
BLOCK_NORM_EPS = 1e-5  # the blocks' norm1 / norm2 (torch's default)
QK_NORM_EPS = 1e-6  # RMSNorm on q and k
ROPE_SPLIT = (64, 32, 32)  # head channels per axis: frame, row, column
ROPE_THETA = 10000.0


def log(message):
    print(f"train_torch: {message}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------- parameters


class Init:
    """Uniform draws shaped like the C++ random init (values need not match)."""

    def __init__(self, seed):
        self.gen = torch.Generator().manual_seed(seed)

    def uniform(self, shape, bound, offset=0.0):
        t = torch.empty(shape, dtype=torch.float32)
        t.uniform_(-bound, bound, generator=self.gen)
        return nn.Parameter(t + offset)

    def fan_in(self, shape):
        fan = 1
        for s in shape[1:]:
            fan *= s
        return self.uniform(shape, 1.0 / math.sqrt(max(fan, 1)))

    def bias(self, n):
        return self.uniform((n,), 0.02)

    def ones(self, n):
        return self.uniform((n,), 0.05, 1.0)

    def table(self, shape):
        return self.uniform(shape, 1.0 / math.sqrt(shape[-1]))


class Linear(nn.Module):
    def __init__(self, init, d_in, d_out, bias):
        super().__init__()
        self.weight = init.fan_in((d_out, d_in))
        self.bias = init.bias(d_out) if bias else None

    def forward(self, x):
        return F.linear(x, self.weight, self.bias)


class LayerNorm(nn.Module):
    def __init__(self, init, dim, eps):
        super().__init__()
        self.weight = init.ones(dim)
        self.bias = init.bias(dim)
        self.eps = eps

    def forward(self, x):
        return F.layer_norm(x, (x.shape[-1],), self.weight, self.bias, self.eps)


class RMSNorm(nn.Module):
    def __init__(self, init, dim, eps):
        super().__init__()
        self.weight = init.ones(dim)
        self.eps = eps

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


# ---------------------------------------------------------------- pointwise math


def gelu_tanh(x):
    return F.gelu(x, approximate="tanh")


def modulate(x, shift, scale):
    """x [B, S, D] * (1 + scale) + shift, shift/scale [B, D]."""
    return x * (1 + scale.unsqueeze(1)) + shift.unsqueeze(1)


def timestep_embedding(t, dim, t_scale=1000.0, max_period=10000.0):
    """[cos | sin] of (t * t_scale) * exp(-ln(max_period) k / (dim/2)), f32 steps."""
    half = dim // 2
    k = torch.arange(half, dtype=torch.float32)
    freq = torch.exp((-math.log(max_period) * k) / half)
    arg = (t.float() * t_scale).unsqueeze(1) * freq.unsqueeze(0)
    return torch.cat([torch.cos(arg), torch.sin(arg)], dim=1)


def rope_tables(frames, rows, cols):
    """Per token (f*rows*cols + i*cols + j) tables for x*cos + x[..., partner]*sin.

    Each of the three parts of the head (64/32/32 channels for frame/row/column)
    is rotated by halves: (lo, hi) -> (lo c - hi s, hi c + lo s), angle =
    position * theta^(-2k/part). Returns cos, signed sin: [S, 1, 128]; partner:
    the channel each one pairs with.
    """
    positions = max(frames, rows, cols)  # every table spans the longest axis
    tokens = torch.arange(frames * rows * cols)
    pos = (tokens // (rows * cols), (tokens // cols) % rows, tokens % cols)
    p = torch.arange(positions, dtype=torch.float32)
    cos_parts, sin_parts, partner = [], [], []
    offset = 0
    for axis, part in enumerate(ROPE_SPLIT):
        half = part // 2
        expo = (2 * torch.arange(half, dtype=torch.float32)) / part
        inv_freq = 1.0 / torch.pow(torch.tensor(ROPE_THETA, dtype=torch.float32), expo)
        angle = p.unsqueeze(1) * inv_freq.unsqueeze(0)  # [positions, half]
        c = torch.cos(angle)[pos[axis]]  # [S, half]
        s = torch.sin(angle)[pos[axis]]
        cos_parts += [c, c]
        sin_parts += [-s, s]
        lo = torch.arange(offset, offset + half)
        partner += [lo + half, lo]
        offset += part
    cos = torch.cat(cos_parts, dim=1).unsqueeze(1)
    sin = torch.cat(sin_parts, dim=1).unsqueeze(1)
    return cos, sin, torch.cat(partner)


def rope(x, cos, sin, partner):
    """x: [B, S, H, 128]."""
    return x * cos + x.index_select(-1, partner) * sin


def attention(q, k, v, key_bias):
    """softmax(q k^T / sqrt(d) + key_bias) v; q: [B, Sq, H, d], k, v: [B, Sk, H, d]."""
    scale = 1.0 / math.sqrt(q.shape[-1])
    q = q.transpose(1, 2) * scale
    k = k.transpose(1, 2)
    v = v.transpose(1, 2)
    scores = torch.matmul(q, k.transpose(-1, -2))
    if key_bias is not None:
        scores = scores + key_bias
    return torch.matmul(torch.softmax(scores, dim=-1), v).transpose(1, 2)


# ---------------------------------------------------------------- the DiT


class SelfAttention(nn.Module):
    def __init__(self, init, dim, heads):
        super().__init__()
        self.heads = heads
        self.wqkv = Linear(init, dim, 3 * dim, bias=False)  # per head: q | k | v
        self.wo = Linear(init, dim, dim, bias=False)
        self.q_norm = RMSNorm(init, HEAD_DIM, QK_NORM_EPS)
        self.k_norm = RMSNorm(init, HEAD_DIM, QK_NORM_EPS)

    def forward(self, x, rope_cos, rope_sin, rope_partner):
        b, s, d = x.shape
        q, k, v = self.wqkv(x).view(b, s, self.heads, 3, HEAD_DIM).unbind(3)
        q = rope(self.q_norm(q), rope_cos, rope_sin, rope_partner)
        k = rope(self.k_norm(k), rope_cos, rope_sin, rope_partner)
        return self.wo(attention(q, k, v, None).reshape(b, s, d))


class CrossAttention(nn.Module):
    def __init__(self, init, dim, heads):
        super().__init__()
        self.heads = heads
        self.wq = Linear(init, dim, dim, bias=False)
        self.wkv = Linear(init, dim, 2 * dim, bias=False)  # per head: k | v
        self.wo = Linear(init, dim, dim, bias=False)
        self.q_norm = RMSNorm(init, HEAD_DIM, QK_NORM_EPS)
        self.k_norm = RMSNorm(init, HEAD_DIM, QK_NORM_EPS)

    def forward(self, x, text, key_bias):
        b, s, d = x.shape
        q = self.q_norm(self.wq(x).view(b, s, self.heads, HEAD_DIM))
        k, v = self.wkv(text).view(b, text.shape[1], self.heads, 2, HEAD_DIM).unbind(3)
        out = attention(q, self.k_norm(k), v, key_bias)
        return self.wo(out.reshape(b, s, d))


class Block(nn.Module):
    def __init__(self, init, dim, heads):
        super().__init__()
        self.dim = dim
        self.scale_shift_table = init.table((6, dim))
        self.norm1 = LayerNorm(init, dim, BLOCK_NORM_EPS)
        self.attn1 = SelfAttention(init, dim, heads)
        self.norm2 = LayerNorm(init, dim, BLOCK_NORM_EPS)
        self.attn2 = CrossAttention(init, dim, heads)
        self.ff_in = Linear(init, dim, 4 * dim, bias=False)
        self.ff_out = Linear(init, 4 * dim, dim, bias=False)

    def forward(self, x, text, key_bias, t6, rope_cos, rope_sin, rope_partner):
        mod = self.scale_shift_table.unsqueeze(0) + t6.view(-1, 6, self.dim)
        shift_msa, scale_msa, gate_msa, shift_mlp, scale_mlp, gate_mlp = mod.unbind(1)
        h = modulate(self.norm1(x), shift_msa, scale_msa)
        x = x + gate_msa.unsqueeze(1) * self.attn1(h, rope_cos, rope_sin, rope_partner)
        x = x + self.attn2(x, text, key_bias)
        h = modulate(self.norm2(x), shift_mlp, scale_mlp)
        return x + gate_mlp.unsqueeze(1) * self.ff_out(gelu_tanh(self.ff_in(h)))


class Dit(nn.Module):
    """channels: latent channels in and out; clip_channels 0: no clip projection (the benchmark's case)."""

    def __init__(self, heads, layers, caption_channels, seed, channels=LATENT_CHANNELS, clip_channels=0):
        super().__init__()
        init = Init(seed)
        d = heads * HEAD_DIM
        self.dim = d
        self.channels = channels
        self.scale_shift_table = init.table((2, d))
        self.patch_embed = Linear(init, channels, d, bias=True)  # Conv2d with a 1x1 kernel
        self.blocks = nn.ModuleList(Block(init, d, heads) for _ in range(layers))
        self.proj_out = Linear(init, d, channels, bias=True)
        self.time_linear_1 = Linear(init, TIMESTEP_CHANNELS, d, bias=True)
        self.time_linear_2 = Linear(init, d, d, bias=True)
        self.adaln_linear = Linear(init, d, 6 * d, bias=True)
        self.clip_projection = Linear(init, clip_channels, d, bias=True) if clip_channels > 0 else None
        self.caption_linear_1 = Linear(init, caption_channels, d, bias=True)
        self.caption_linear_2 = Linear(init, d, d, bias=True)
        self.activation_checkpointing = False

    def forward(self, video, t, caption, mask, clip=None):
        """mask: [B, clip tokens + text tokens] over [clip | llm]; only its row sums are used."""
        b, frames, c, height, width = video.shape
        # Patch embedding (p = 1): token f*H*W + i*W + j holds that position's channels.
        x = self.patch_embed(video.permute(0, 1, 3, 4, 2).reshape(b, frames * height * width, c))

        # AdaLN-single: the embedded timestep and the six tables per sample.
        embedded = self.time_linear_2(F.silu(self.time_linear_1(timestep_embedding(t, TIMESTEP_CHANNELS))))
        t6 = self.adaln_linear(F.silu(embedded))

        # Caption projection (clip projection in front, when there is one); the
        # text is cut to the longest key length and each row attends its own
        # prefix of it (no masking needed when every row is full).
        y = F.layer_norm(caption, (caption.shape[-1],), None, None, MODEL_NORM_EPS)
        text = self.caption_linear_2(gelu_tanh(self.caption_linear_1(y)))
        if self.clip_projection is not None and clip is not None:
            text = torch.cat([self.clip_projection(clip), text], dim=1)
        kv_lens = [int(v) for v in mask.float().sum(dim=1).tolist()]
        keys = max(kv_lens)
        text = text[:, :keys]
        key_bias = None
        if min(kv_lens) < keys:
            hole = torch.arange(keys).unsqueeze(0) >= torch.tensor(kv_lens).unsqueeze(1)
            key_bias = torch.zeros(b, keys).masked_fill(hole, float("-inf")).view(b, 1, 1, keys)

        rope_cos, rope_sin, rope_partner = rope_tables(frames, height, width)
        for block in self.blocks:
            args = (x, text, key_bias, t6, rope_cos, rope_sin, rope_partner)
            if self.activation_checkpointing:
                x = torch.utils.checkpoint.checkpoint(block, *args, use_reentrant=False, preserve_rng_state=False)
            else:
                x = block(*args)

        # Output: LayerNorm without affine, modulation by table + embedded, proj_out.
        ss = self.scale_shift_table.unsqueeze(0) + embedded.unsqueeze(1)  # [B, 2, D]
        h = modulate(F.layer_norm(x, (self.dim,), None, None, MODEL_NORM_EPS), ss[:, 0], ss[:, 1])
        out = self.proj_out(h)
        return out.view(b, frames, height, width, self.channels).permute(0, 1, 4, 2, 3)


# ---------------------------------------------------------------- benchmark


def forward_flops(heads, layers, caption_channels, batch, video_tokens, text_tokens, clip_tokens=0,
                  clip_channels=0, patch_size=1):
    """DitModel::forward_flops (src/models/dit/dit_model.cpp)."""
    d = float(heads * HEAD_DIM)
    s, l = float(video_tokens), float(text_tokens + clip_tokens)
    per_block = (2.0 * s * d * (3 * d) + 2.0 * s * s * d * 2 + 2.0 * s * d * d + 2.0 * s * d * d
                 + 2.0 * l * d * (2 * d) + 2.0 * s * l * d * 2 + 2.0 * s * d * d + 2.0 * s * d * (8 * d))
    p2 = float(patch_size * patch_size)
    outer = (2.0 * s * d * LATENT_CHANNELS * p2 + 2.0 * text_tokens * d * (caption_channels + d)
             + 2.0 * clip_tokens * d * clip_channels + 2.0 * s * d * LATENT_CHANNELS * p2)
    return batch * (layers * per_block + outer)


def median_of(values):
    return statistics.median(values)  # the middle one, or the mean of the two middle ones


def blas_library():
    """The BLAS shared object torch's matmuls resolved to (Debian's torch uses libblas.so.3)."""
    torch.randn(64, 64) @ torch.randn(64, 64)
    try:
        with open("/proc/self/maps") as maps:
            paths = {line.split()[-1] for line in maps if "blas" in line.lower() and "/" in line}
    except OSError:
        return "unknown"
    return ", ".join(sorted(os.path.realpath(p) for p in paths)) or "none found"


def parse_args(argv):
    def positive(text):
        v = int(text)
        if v <= 0:
            raise argparse.ArgumentTypeError("must be positive")
        return v

    parser = argparse.ArgumentParser(
        description="One DiT training step (forward, flow-matching loss, backward) in PyTorch, f32 on the "
                    "CPU, with the shapes and FLOP count of `stepvideo bench train`.")
    for name, default, what in [("heads", 16, "attention heads (x128 channels)"),
                                ("layers", 4, "transformer blocks"), ("frames", 2, "latent frames"),
                                ("height", 24, "latent height"), ("width", 22, "latent width"),
                                ("text", 300, "text tokens"), ("caption", 6144, "text embedding channels"),
                                ("batch", 2, "samples per step"),
                                ("reps", 3, "timed repetitions after one warm-up")]:
        parser.add_argument(f"--{name}", type=positive, default=default, help=f"{what} (default {default})")
    parser.add_argument("--seed", type=int, default=0, help="weights and inputs seed (default 0)")
    parser.add_argument("--activation-checkpointing", choices=["on", "off"], default="off",
                        help="on: recompute each block in backward (torch.utils.checkpoint)")
    parser.add_argument("--threads", type=positive, default=int(os.environ.get("OMP_NUM_THREADS") or 2),
                        help="torch threads (default: OMP_NUM_THREADS or 2)")
    return parser.parse_args(argv)


def main(argv):
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    model = Dit(args.heads, args.layers, args.caption, args.seed)
    model.activation_checkpointing = args.activation_checkpointing == "on"
    params = list(model.parameters())

    def gaussian(shape, seed):
        return torch.randn(shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float32)

    shape = (args.batch, args.frames, LATENT_CHANNELS, args.height, args.width)
    x0 = gaussian(shape, args.seed + 1)
    noise = gaussian(shape, args.seed + 2)
    t = torch.full((args.batch,), 0.7)
    caption = gaussian((args.batch, args.text, args.caption), args.seed + 3)
    mask = torch.ones(args.batch, args.text)

    tokens = args.frames * args.height * args.width
    flops = 3.0 * forward_flops(args.heads, args.layers, args.caption, args.batch, tokens, args.text)
    log(f"{args.layers} layers, {args.heads} heads (dim {model.dim}), batch {args.batch}, {tokens} video + "
        f"{args.text} text tokens, {flops / 1e9:.1f} GFLOP per step (3x forward), activation checkpointing "
        f"{args.activation_checkpointing}, {torch.get_num_threads()} threads, "
        f"{sum(p.numel() for p in params) / 1e6:.1f} M parameters, torch {torch.__version__}, "
        f"BLAS {blas_library()}")

    times = []
    for r in range(args.reps + 1):
        for p in params:  # like the C++ grads.zero(): before the clock starts
            p.grad = None
        start = time.perf_counter()
        # Flow matching (t = 1 is the clean video): x_t = t x0 + (1 - t) noise, v = x0 - noise.
        tb = t.view(-1, 1, 1, 1, 1)
        x_t = tb * x0 + (1 - tb) * noise
        target = x0 - noise
        prediction = model(x_t, t, caption, mask)
        loss = F.mse_loss(prediction, target)  # mean over every element
        loss.backward()
        s = time.perf_counter() - start
        if not math.isfinite(loss.item()):
            raise SystemExit(f"train_torch: loss is {loss.item()}")
        log(f"{'warm-up' if r == 0 else 'rep'} {s:.3f} s ({flops / s / 1e9:.1f} GFLOP/s), loss {loss.item():.6f}")
        if r > 0:
            times.append(s)

    missing = [n for n, p in model.named_parameters() if p.grad is None]
    if missing:
        raise SystemExit(f"train_torch: no gradient reached {missing}")
    median = median_of(times)
    result = {
        "bench": "train_torch",
        "heads": args.heads, "layers": args.layers, "frames": args.frames, "height": args.height,
        "width": args.width, "text": args.text, "caption": args.caption, "batch": args.batch,
        "reps": args.reps, "seed": args.seed,
        "threads": torch.get_num_threads(),
        "activation_checkpointing": args.activation_checkpointing == "on",
        "torch": torch.__version__,
        "gflop_per_step": flops / 1e9,
        "median_s": median,
        "min_s": min(times),
        "gflops": flops / median / 1e9,
        "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
    }
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
