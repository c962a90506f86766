"""Inputs longer than one model chunk: where the chunks go, and how their results are stitched.

The paper cuts a recording into non-overlapping chunks of L = 262144 samples and processes them
independently, so stems can jump where chunks meet (``chunking="independent"``). The default here
is *seamless*: chunks overlap by O samples, and a chunk that overlaps finished audio holds that
overlap as known, exactly as imputation holds known stems (:func:`chunk_passes` lists the designs,
:func:`run_chunked` runs one). This module only places and stitches chunks; the tasks that run on
each chunk are :func:`msdm_tutorial.tasks.separate_long`, :func:`~msdm_tutorial.tasks.impute_long`
and :func:`~msdm_tutorial.tasks.generate` with a ``chunk_length`` (outpainting).
"""

from __future__ import annotations

import math
from typing import Callable

import torch
from torch import Tensor

from .unet import round_up

#: The paper separates non-overlapping chunks of this many samples (≈ 11.9 s at 22050 Hz).
PAPER_CHUNK_LENGTH = 262144
#: How long inputs are cut: ``seamless`` (the default, see :data:`SEAMLESS`), ``independent`` (the
#: paper), and the designs compared in benchmarks/long_form.py.
CHUNKINGS = ("seamless", "independent", "crossfade", "sequential", "bridge")
#: The design ``"seamless"`` stands for (the winner of benchmarks/long_form.py).
SEAMLESS = "bridge"
#: Default overlap of neighbouring chunks, as a fraction of the chunk length.
DEFAULT_OVERLAP = 0.25


def split_chunks(signal: Tensor, chunk_length: int) -> Tensor:
    """(B, C, T) → (B·n, C, chunk_length), n = ⌈T / chunk_length⌉, the tail padded with zeros.

    Chunks are ordered item by item: chunk j of item b is row b·n + j.
    """
    if chunk_length < 1:
        raise ValueError(f"chunk_length must be >= 1, got {chunk_length}")
    b, c, t = signal.shape
    padded = torch.nn.functional.pad(signal, (0, round_up(max(t, 1), chunk_length) - t))
    n = padded.shape[-1] // chunk_length
    return padded.view(b, c, n, chunk_length).permute(0, 2, 1, 3).reshape(b * n, c, chunk_length)


def join_chunks(chunks: Tensor, batch: int, length: int) -> Tensor:
    """Inverse of :func:`split_chunks`: (B·n, C, L) → (B, C, length), cropping the padding."""
    bn, c, chunk_length = chunks.shape
    if bn % batch:
        raise ValueError(f"{bn} chunks do not split into {batch} items")
    n = bn // batch
    if not (n - 1) * chunk_length < length <= n * chunk_length:
        raise ValueError(f"{n} chunks of {chunk_length} samples cannot hold {length} samples")
    x = chunks.reshape(batch, n, c, chunk_length).permute(0, 2, 1, 3).reshape(batch, c, n * chunk_length)
    return x[..., :length]


def map_chunks(fn: Callable[[Tensor], Tensor], signal: Tensor, chunk_length: int, batch_size: int = 8,
               progress: Callable[[int, int], None] | None = None) -> Tensor:
    """Apply ``fn`` ((n, C, L) → (n, C', L)) to a (B, C, T) signal of any length, chunk by chunk.

    The signal is cut into chunks of ``chunk_length`` (tail zero-padded), ``fn`` runs on batches of
    at most ``batch_size`` chunks, and the outputs are stitched back and cropped to T.
    ``progress(done, total)`` is called after each batch. With a random ``fn`` the result depends
    on ``batch_size`` (the generator is consumed batch by batch).
    """
    if signal.ndim != 3:
        raise ValueError(f"signal must have shape (B, C, T), got {tuple(signal.shape)}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    chunks = split_chunks(signal, chunk_length)
    outs = []
    for start in range(0, chunks.shape[0], batch_size):
        out = fn(chunks[start:start + batch_size])
        if out.ndim != 3 or out.shape[0] != min(batch_size, chunks.shape[0] - start) or out.shape[-1] != chunk_length:
            raise ValueError(f"fn returned shape {tuple(out.shape)} for chunks of shape "
                             f"{tuple(chunks[start:start + batch_size].shape)}")
        outs.append(out)
        if progress is not None:
            progress(min(start + batch_size, chunks.shape[0]), chunks.shape[0])
    return join_chunks(torch.cat(outs), signal.shape[0], signal.shape[-1])


def default_overlap(chunk_length: int) -> int:
    """Samples shared by neighbouring chunks: :data:`DEFAULT_OVERLAP` of a chunk (8192 of 32768)."""
    return int(round(DEFAULT_OVERLAP * chunk_length))


def chunk_passes(length: int, chunk_length: int, overlap: int = 0, chunking: str = "seamless") -> list[list[int]]:
    """Start samples of chunks of L = ``chunk_length`` covering [0, length), in passes.

    Chunks of one pass never overlap each other, so a pass runs as batches; a later pass holds
    what earlier ones finished (O = ``overlap``, h = L − O):

    - ``independent``: one pass, starts 0, L, 2L, …  (the paper; O is ignored);
    - ``crossfade``: one pass, starts every h; each overlap is a sin²/cos² crossfade;
    - ``sequential``: one chunk per pass, starts every h; each holds its first O samples
      (outpainting: every chunk continues the previous one);
    - ``bridge``: two passes. A chunks at 0, P, 2P, … (P = 2L − 2O) first, then B chunks at
      P·i + L − O that fill the gap of L − 2O between A_i and A_{i+1}, holding O samples of each.

    Every design but ``independent`` costs L / (L − O) chunks per L samples; ``seamless`` is
    :data:`SEAMLESS`. The last chunk may reach past ``length`` (zero-padded). A finished chunk's
    outer O/2 samples are never held: the network saw zeros beyond them, so they are its worst;
    the next chunk holds the inner half of the overlap and writes over the outer half
    (:func:`run_chunked`).
    """
    chunking = SEAMLESS if chunking == "seamless" else chunking
    if chunking not in CHUNKINGS:
        raise ValueError(f"chunking must be one of {', '.join(CHUNKINGS)}, got {chunking!r}")
    if chunk_length < 1 or length < 1:
        raise ValueError(f"chunk_length and length must be >= 1, got {chunk_length} and {length}")
    limit = chunk_length / 2 if chunking == "bridge" else chunk_length
    if chunking != "independent" and not 0 <= overlap < limit:
        raise ValueError(f"overlap {overlap} must be >= 0 and < {limit:g} samples for {chunking} chunks "
                         f"of {chunk_length}")
    if chunking == "independent":
        return [list(range(0, length, chunk_length))]
    if chunking == "bridge":
        period = 2 * (chunk_length - overlap)
        a = list(range(0, length, period))
        b = [s + chunk_length - overlap for s in a if s + chunk_length < length]
        return [a, b] if b else [a]
    starts = [0]
    while starts[-1] + chunk_length < length:
        starts.append(starts[-1] + chunk_length - overlap)
    return [starts] if chunking == "crossfade" else [[s] for s in starts]


def chunk_joins(length: int, chunk_length: int, overlap: int = 0, chunking: str = "seamless") -> list[int]:
    """Where the result passes from one chunk's samples to another's, inside (0, length).

    independent: every L; sequential and bridge: the middle of each overlap (where held samples
    end, :func:`run_chunked`); crossfade: both ends and the middle of each overlap.
    """
    chunking = SEAMLESS if chunking == "seamless" else chunking
    passes = chunk_passes(length, chunk_length, overlap, chunking)
    starts = sorted(s for p in passes for s in p)
    if chunking == "independent":
        joins = starts[1:]
    elif chunking == "crossfade":
        joins = [s + d for s in starts[1:] for d in (0, overlap // 2, overlap)]
    else:
        joins = [s + overlap // 2 for s in starts[1:]]
    return [j for j in joins if 0 < j < length]


def chunk_runs(length: int, chunk_length: int, overlap: int, chunking: str, items: int, batch_size: int) -> int:
    """How many sampler runs (batches) :func:`run_chunked` makes: progress bars count ``runs × steps``."""
    return sum(math.ceil(len(p) * items / batch_size) for p in chunk_passes(length, chunk_length, overlap, chunking))


def _fade(start: int, starts: set[int], chunk_length: int, overlap: int, like: Tensor) -> Tensor:
    """The crossfade weight of the chunk at ``start``: sin² up over its first O samples when a chunk
    ends there, cos² down over its last O when the next one begins there (the two sum to 1)."""
    w = torch.ones(chunk_length, dtype=like.dtype, device=like.device)
    if overlap:
        ramp = torch.sin(0.5 * math.pi * (torch.arange(overlap, device=like.device) + 0.5) / overlap) ** 2
        if start > 0:
            w[:overlap] = ramp.to(w)
        if start + chunk_length - overlap in starts:
            w[-overlap:] = 1 - ramp.to(w)
    return w


def _blend_weight(held: Tensor, blend: int) -> Tensor:
    """(L,) weight of a chunk's own result: 1, except a sin² ramp over the ``blend`` free samples next to
    each held stretch (0 at the held edge), where the finished neighbour's outer samples fade out."""
    w = torch.ones(held.shape[-1], dtype=torch.float32, device=held.device)
    if blend < 1:
        return w
    ramp = torch.sin(0.5 * math.pi * (torch.arange(blend, device=held.device) + 0.5) / blend) ** 2
    h = held.bool().tolist()
    for t in range(1, len(h)):
        if h[t - 1] and not h[t]:                      # held → free: fade the new chunk in
            n = min(blend, len(h) - t)
            w[t:t + n] = torch.minimum(w[t:t + n], ramp[:n])
        elif not h[t - 1] and h[t]:                    # free → held: fade it out
            n = min(blend, t)
            w[t - n:t] = torch.minimum(w[t - n:t], ramp[:n].flip(0))
    return w


def run_chunked(fn: Callable[[Tensor, Tensor | None, Tensor], Tensor], signal: Tensor, chunk_length: int,
                overlap: int = 0, chunking: str = "seamless", batch_size: int = 8,
                progress: Callable[[int, int], None] | None = None, blend: int = 0) -> Tensor:
    """Run ``fn(part, finished, held) -> (n, K, L)`` on the chunks of :func:`chunk_passes` and stitch.

    ``signal`` (B, C, T) is cut with the chunks (``part``, zero-padded past T). ``finished``
    (n, K, L) is what earlier passes produced there (None in the first pass) and ``held`` (n, 1, L)
    is 1 where they finished it: all of a chunk but its outer O/2 samples on a side where another
    chunk follows. ``fn`` must return ``finished`` exactly where ``held`` (imputation's projection
    at σ = 0 does), and its result is written over the whole chunk, except that over ``blend``
    samples next to a held stretch it is crossfaded with the finished neighbour's outer samples
    (:func:`_blend_weight`; outpainting uses O/4 to smooth the small step the replacement method
    leaves where held samples end). Chunks of a pass go ``batch_size`` at a time; ``progress(done, total)``
    counts chunks after each batch. Returns (B, K, T).
    """
    chunking = SEAMLESS if chunking == "seamless" else chunking
    b, _, length = signal.shape
    passes = chunk_passes(length, chunk_length, overlap, chunking)
    end = max(s for p in passes for s in p) + chunk_length
    signal = torch.nn.functional.pad(signal, (0, end - length))
    done = torch.zeros(end, dtype=torch.bool, device=signal.device)
    out, total, count = None, b * sum(len(p) for p in passes), 0
    for starts in passes:
        jobs = [(i, s) for i in range(b) for s in starts]
        for first in range(0, len(jobs), batch_size):
            group = jobs[first:first + batch_size]
            part = torch.stack([signal[i, :, s:s + chunk_length] for i, s in group])
            held = torch.stack([done[s:s + chunk_length] for _, s in group])[:, None].to(part.dtype)
            finished = None if out is None else torch.stack([out[i, :, s:s + chunk_length] for i, s in group])
            res = fn(part, finished, held)
            if res.ndim != 3 or res.shape[0] != len(group) or res.shape[-1] != chunk_length:
                raise ValueError(f"fn returned shape {tuple(res.shape)} for chunks of shape {tuple(part.shape)}")
            if out is None:
                out = res.new_zeros(b, res.shape[1], end)
            for (i, s), r, h in zip(group, res, held):
                if chunking == "crossfade":
                    out[i, :, s:s + chunk_length] += _fade(s, set(starts), chunk_length, overlap, r) * r
                elif blend and bool(h.any()):
                    w = _blend_weight(h[0], blend).to(r)
                    old = out[i, :, s:s + chunk_length]
                    out[i, :, s:s + chunk_length] = old + w * (r - old)     # exact where r = old (kept stems)
                else:
                    out[i, :, s:s + chunk_length] = r
            count += len(group)
            if progress is not None:
                progress(count, total)
        for s in starts:    # done, less the outer half-overlap that a neighbouring chunk redoes
            first = s + (overlap // 2 if s > 0 else 0)
            last = s + chunk_length - (overlap // 2 if s + chunk_length < end else 0)
            done[first:last] = True
    return out[..., :length]

