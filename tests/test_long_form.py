"""Long inputs: chunk plans, seamless separation, outpainting, bf16 (msdm_tutorial.tasks, metrics).

The seam tests use sources whose exact denoiser is known *with time structure*: each stem is a
stationary Gaussian process over time (squared-exponential kernel, its own length scale and
variance), independent of the others. On a chunk of L samples the exact denoiser is
D(x; σ) = C(C + σ²I)⁻¹x per stem, with C the L × L kernel matrix, so any chunk placement is
exact. A stem of such a process is smooth: neighbouring samples differ little. Chunks that know
nothing of each other draw independent posterior samples on either side of a join, so the
result jumps there; chunks that hold their overlap with finished audio do not.

Jump ratio: RMS of the first difference at the joins ÷ elsewhere; for outpainting and long
imputation over the W = L/16 samples after each join, because there the first O/4 free samples are
crossfaded with the finished chunk (a step would be spread over them). Calibration (measured with
the settings below): independent chunks 9.2 (separation, at the join), 5.8 (generation, over W) and
3.4 (imputation, over W); the seamless designs 0.94–1.0 (separation), 1.85 (outpainting) and 1.58
(imputation). Thresholds: independent > 4 (separation) or > 2.5 (over W); seamless < 1.5
(separation) and < 2.2 (outpainting, imputation).
"""

from __future__ import annotations

import math

import pytest
import torch

from msdm_tutorial import metrics, tasks
from msdm_tutorial.tasks import GenerationConfig, SeparationConfig

STEMS = ("bass", "drums", "guitar", "piano")
L = 64                       # chunk length of the tests
T = 4 * L + 17               # a song of several chunks, not a multiple of L
W = L // 16                  # samples after a join where outpainting crossfades
SCALES = (12.0, 8.0, 6.0, 4.0)            # length scales of the stems (samples)
SDS = (0.3, 0.2, 0.15, 0.1)               # their standard deviations


pytestmark = pytest.mark.usefixtures("one_torch_thread")


class SmoothPrior:
    """K independent stationary Gaussian processes; ``__call__`` is the exact denoiser on any length."""

    stems = STEMS

    def __init__(self, scales=SCALES, sds=SDS):
        self.scales, self.sds, self._eig = scales, sds, {}

    def cov(self, n: int) -> torch.Tensor:
        t = torch.arange(n, dtype=torch.float64)
        d2 = (t[:, None] - t[None]) ** 2
        return torch.stack([s ** 2 * torch.exp(-0.5 * d2 / ell ** 2) for ell, s in zip(self.scales, self.sds)])

    def eig(self, n: int):
        if n not in self._eig:
            lam, u = torch.linalg.eigh(self.cov(n) + 1e-9 * torch.eye(n, dtype=torch.float64))
            self._eig[n] = (lam.clamp_min(0), u)
        return self._eig[n]

    def __call__(self, x: torch.Tensor, sigma) -> torch.Tensor:
        lam, u = self.eig(x.shape[-1])                         # (K, n), (K, n, n)
        gain = lam / (lam + float(sigma) ** 2)
        z = torch.einsum("kji,bkj->bki", u, x.double())        # Uᵀx per stem
        return torch.einsum("kij,bkj->bki", u, gain * z).to(x.dtype)

    def sample(self, batch: int, n: int, seed: int = 0) -> torch.Tensor:
        lam, u = self.eig(n)
        z = torch.randn(batch, len(STEMS), n, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
        return torch.einsum("kij,bkj->bki", u, lam.sqrt() * z).float()


def jump_ratio(x: torch.Tensor, joins, width: int = 1) -> float:
    """RMS of the first difference x[t] − x[t−1] for t in [j, j + width) at every join j ÷ RMS elsewhere
    (all stems, all items). ``width`` > 1 covers a crossfade that starts at the join."""
    d = (x[..., 1:] - x[..., :-1]) ** 2
    at = torch.zeros(d.shape[-1], dtype=torch.bool)
    for j in joins:
        at[j - 1:j - 1 + width] = True        # d[t − 1] is the difference between samples t−1 and t
    return float((d[..., at].mean() / d[..., ~at].mean()).sqrt())


# ----------------------------------------------------------------------------------------------
# chunk plans
# ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("chunking", tasks.CHUNKINGS)
@pytest.mark.parametrize("length", [1, 63, 64, 65, 200, 1000])
def test_chunk_passes_cover_the_signal_and_cost_what_they_say(chunking, length):
    overlap = 16
    passes = tasks.chunk_passes(length, L, overlap, chunking)
    covered = torch.zeros(length + 2 * L, dtype=torch.int)
    for p in passes:
        inside = torch.zeros_like(covered)
        for s in p:
            inside[s:s + L] += 1
        if chunking != "crossfade":
            assert inside.max() <= 1, "chunks of one pass must not overlap"
        covered += inside
    assert (covered[:length] >= 1).all()
    n = sum(len(p) for p in passes)
    if chunking != "independent" and length > L:
        assert n <= math.ceil((length - overlap) / (L - overlap)) + 1      # ≈ L / (L − O) per L samples


@pytest.mark.parametrize("chunking", ["crossfade", "sequential", "bridge"])
def test_run_chunked_holds_finished_samples_and_stitches_exactly(chunking):
    """With fn = 'copy the input, except where held, keep what is finished', the result is the input,
    and every held sample a chunk sees is exactly what an earlier chunk wrote."""
    signal = torch.randn(2, 3, 300)
    seen = []

    def fn(part, finished, held):
        if finished is not None and held.any():
            h = held.bool().expand_as(part)
            seen.append(torch.equal(finished[h], part[h]))
            part = torch.where(h, finished, part)
        return part.clone()

    out = tasks.run_chunked(fn, signal, L, 16, chunking, batch_size=3)
    torch.testing.assert_close(out, signal)
    assert all(seen) and (len(seen) > 0) == (chunking != "crossfade")


def test_join_error_ratio_sees_a_seam():
    ref = torch.zeros(4, 2000)
    est = ref + 0.01 * torch.randn(4, 2000, generator=torch.Generator().manual_seed(0))
    assert all(0.8 < r < 1.25 for r in metrics.join_error_ratio([(est, ref, [1000])]).values())
    est[:, 990:1010] += 0.2                                                   # a click at the join
    assert all(r > 3 for r in metrics.join_error_ratio([(est, ref, [1000])]).values())


# ----------------------------------------------------------------------------------------------
# seams: separation and generation of smooth sources with the exact denoiser
# ----------------------------------------------------------------------------------------------

SEP = SeparationConfig.paper_dirac().with_steps(40)


def _separate(chunking, seed=0):
    prior = SmoothPrior()
    truth = prior.sample(8, T, seed=seed)
    y = truth.sum(1, keepdim=True)
    x = tasks.separate_long(prior, y, SEP, chunk_length=L, batch_size=64, chunking=chunking, overlap=L // 4,
                            generator=torch.Generator().manual_seed(seed))
    return x, truth, y


def test_independent_chunks_jump_at_joins():
    x, truth, y = _separate("independent")
    assert jump_ratio(x, tasks.chunk_joins(T, L, 0, "independent")) > 4.0


@pytest.mark.parametrize("chunking", ["seamless", "sequential", "bridge", "crossfade"])
def test_seamless_separation_has_no_jumps_and_sums_to_the_mixture(chunking):
    x, truth, y = _separate(chunking)
    assert (x.sum(1, keepdim=True) - y).abs().max() < 1e-5, "Dirac: the stems sum to the mixture"
    joins = tasks.chunk_joins(T, L, L // 4, chunking)
    assert jump_ratio(x, joins) < 1.5
    ratios = metrics.join_error_ratio([(x[i], truth[i], joins) for i in range(len(x))], radius=4, stems=STEMS)
    assert max(ratios.values()) < 1.5, ratios


def test_separation_holds_known_samples_exactly():
    prior = SmoothPrior()
    truth = prior.sample(2, L, seed=3)
    y = truth.sum(1, keepdim=True)
    held = torch.zeros(2, 1, L)
    held[..., :16] = 1
    for cfg in (SEP, SeparationConfig.paper_gaussian().with_steps(40)):
        x = tasks.separate(prior, y, cfg, known=truth, held=held, generator=torch.Generator().manual_seed(0))
        torch.testing.assert_close(x[..., :16], truth[..., :16])


def test_outpainting_continues_without_jumps():
    prior = SmoothPrior()
    cfg = GenerationConfig.paper().with_steps(40).replace(sigma_max=2.0)
    x = tasks.generate(prior, (8, 4, T), config=cfg, chunk_length=L, overlap=L // 4,
                       generator=torch.Generator().manual_seed(0))
    assert x.shape == (8, 4, T)
    joins = tasks.outpainting_joins(prior, T, L, L // 4)
    assert joins != tasks.chunk_joins(T, L, L // 4, "sequential"), "the margin moves the chunk grid"
    assert jump_ratio(x, joins, W) < 2.2
    # the same chunks generated alone and put side by side jump
    alone = tasks.map_chunks(lambda c: tasks.generate(prior, c.shape, config=cfg,
                                                      generator=torch.Generator().manual_seed(1)),
                             torch.zeros(8, 4, T), L, batch_size=64)
    assert jump_ratio(alone, tasks.chunk_joins(T, L, 0, "independent"), W) > 2.5


def test_outpainting_generates_a_margin_beyond_each_end():
    """A long song is the middle of an outpainted song ``margin`` samples longer at each end."""
    prior = SmoothPrior()
    cfg = GenerationConfig.paper().with_steps(8).replace(sigma_max=2.0)
    margin = tasks.generation_margin(prior, L)
    assert margin == L // 8
    x = tasks.generate(prior, (2, 4, T), config=cfg, chunk_length=L, overlap=L // 4,
                       generator=torch.Generator().manual_seed(3))
    padded = tasks.outpaint(prior, torch.zeros(2, 4, T + 2 * margin), torch.zeros(4), cfg, chunk_length=L,
                            overlap=L // 4, generator=torch.Generator().manual_seed(3))
    torch.testing.assert_close(x, padded[..., margin:margin + T])
    none = tasks.generate(prior, (2, 4, T), config=cfg, chunk_length=L, overlap=L // 4, margin=0,
                          generator=torch.Generator().manual_seed(3))
    torch.testing.assert_close(none, tasks.outpaint(prior, torch.zeros(2, 4, T), torch.zeros(4), cfg, chunk_length=L,
                                                    overlap=L // 4, generator=torch.Generator().manual_seed(3)))
    assert tasks.outpainting_joins(prior, T, L, L // 4, margin=0) == tasks.chunk_joins(T, L, L // 4, "sequential")
    assert [j + margin for j in tasks.outpainting_joins(prior, T, L, L // 4)] == \
        [j for j in tasks.chunk_joins(T + 2 * margin, L, L // 4, "sequential") if margin < j < T + margin]


def test_long_imputation_keeps_stems_and_has_no_jumps():
    prior = SmoothPrior()
    truth = prior.sample(8, T, seed=5)
    cfg = tasks.ImputationConfig.paper().with_steps(40).replace(sigma_max=2.0)
    x = tasks.impute_long(prior, truth, ["bass", "drums"], cfg, chunk_length=L, overlap=L // 4, batch_size=64,
                          generator=torch.Generator().manual_seed(0))
    assert torch.equal(x[:, :2], truth[:, :2]), "the kept stems come back exactly"
    assert jump_ratio(x[:, 2:], tasks.chunk_joins(T, L, L // 4, "seamless"), W) < 2.2
    alone = tasks.impute_long(prior, truth, ["bass", "drums"], cfg, chunk_length=L, batch_size=64,
                              chunking="independent", generator=torch.Generator().manual_seed(0))
    assert jump_ratio(alone[:, 2:], tasks.chunk_joins(T, L, 0, "independent"), W) > 2.5


# ----------------------------------------------------------------------------------------------
# precision
# ----------------------------------------------------------------------------------------------

def test_precision_resolution_and_autocast():
    assert tasks.resolve_precision("fp32", "cuda") == "fp32" and tasks.resolve_precision("bf16", "cpu") == "bf16"
    assert tasks.resolve_precision("auto", "cpu") == ("bf16" if tasks.cpu_has_native_bf16() else "fp32")
    with pytest.raises(ValueError, match="precision"):
        tasks.resolve_precision("fp16")

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = torch.nn.Linear(8, 8)
            self.modes = []

        def forward(self, x, sigma):
            self.modes.append(torch.is_autocast_enabled("cpu"))
            return self.lin(x)

    net = Net()
    x = torch.randn(2, 4, 8)
    out = tasks.with_precision(net, "bf16", "cpu")(x, 0.5)
    assert out.dtype == torch.float32 and net.modes == [True]
    tasks.with_precision(net, "fp32", "cpu")(x, 0.5)
    assert net.modes == [True, False]
    plain = SmoothPrior()                                 # no weights: "auto" never autocasts it
    assert tasks.with_precision(plain, "auto", "cpu") is plain


def test_bf16_network_is_close_to_fp32():
    from msdm_tutorial import unet
    from msdm_tutorial.denoiser import EDMDenoiser

    torch.manual_seed(0)
    model = EDMDenoiser(unet.build("tiny"), stems=STEMS, sample_rate=22050).eval()
    x = 0.3 * torch.randn(1, 4, 4096)
    with torch.no_grad():
        a = tasks.with_precision(model, "fp32")(x, 0.3)
        b = tasks.with_precision(model, "bf16")(x, 0.3)
    err = float((a - b).pow(2).mean().sqrt() / a.pow(2).mean().sqrt())
    assert 0 < err < 0.05, f"bf16 autocast changes D by {err:.3%} (bf16 has 8 bits of mantissa: ~0.4 % a product)"
