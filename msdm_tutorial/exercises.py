"""Self-checks for the course's exercises (notebooks 00–07 and 11): one function per exercise.

A notebook's check cell calls the function with the learner's answer and what the notebook has
at hand (a reference signal, a measured error, …); its hidden solution cell calls it again with the
solution. ``tests/test_exercises.py`` calls every function with the solution and with typical
wrong answers, so each check is known to pass the one and fail the others.

Every function
* prints "Not answered yet …" and returns ``None`` when the answer is still ``None`` (so a notebook
  runs top to bottom before the learner has tried);
* raises ``AssertionError`` with a hint when the answer is wrong;
* prints one labelled line with the result when it is right, and returns that line.

The functions take numbers and tensors, never a notebook's globals, so they can be tested alone.
"""

from __future__ import annotations

import math

import torch

NOT_ANSWERED = "Not answered yet — the (hidden) solution cell below fills it in."


def _pending(*answers) -> bool:
    if any(a is None for a in answers):
        print(NOT_ANSWERED)
        return True
    return False


def _right(line: str) -> str:
    print(line)
    return line


def peak_frequency(x, sample_rate: int) -> float:
    """The frequency (Hz) of the largest FFT magnitude of a 1-D signal."""
    x = torch.as_tensor(x, dtype=torch.float32)
    spectrum = torch.fft.rfft(x).abs()
    return float(torch.fft.rfftfreq(len(x), 1 / sample_rate)[spectrum.argmax()])


def crossing(f, g, lo: float, hi: float, iterations: int = 100) -> float:
    """The σ in ``[lo, hi]`` where ``f(σ) = g(σ)``, by bisection on ln σ (float64); ``f − g`` must
    change sign exactly once in the interval."""
    def h(s):
        s = torch.tensor(s, dtype=torch.float64)
        return float(f(s) - g(s))

    a, b = math.log(lo), math.log(hi)
    ha = h(math.exp(a))
    if ha * h(math.exp(b)) > 0:
        raise ValueError(f"f − g does not change sign between {lo} and {hi}")
    for _ in range(iterations):
        m = 0.5 * (a + b)
        hm = h(math.exp(m))
        if (hm > 0) == (ha > 0):
            a, ha = m, hm
        else:
            b = m
    return math.exp(0.5 * (a + b))


# --- 00 · tour ---------------------------------------------------------------------------------

def octave_down(my_bass, bass, fundamental: float, sample_rate: int):
    """00, exercise 1: ``my_bass`` is ``bass`` an octave lower: same length, peak at half the fundamental."""
    if _pending(my_bass):
        return None
    my_bass = torch.as_tensor(my_bass)
    assert my_bass.shape == bass.shape, f"keep the length: {tuple(my_bass.shape)} vs {tuple(bass.shape)}"
    f = peak_frequency(my_bass, sample_rate)
    assert abs(f - fundamental / 2) <= sample_rate / len(my_bass), \
        f"your bass peaks at {f:.1f} Hz; an octave down halves the frequency"
    return _right(f"Right: your bass peaks at {f:.1f} Hz, half of {fundamental:.0f} Hz.")


def last_stem(my_stem, stem, name: str = "piano"):
    """00, exercise 2: the last stem recovered from the mixture and the other stems."""
    if _pending(my_stem):
        return None
    my_stem = torch.as_tensor(my_stem)
    assert my_stem.shape == stem.shape, f"a 1-D tensor of {len(stem)} samples, got {tuple(my_stem.shape)}"
    err = (my_stem - stem).abs().max().item()
    assert err < 1e-5, f"your {name} is off by up to {err:.3g}. Hint: y − (the sum of the other stems)."
    return _right(f"Right: mixture minus the other three stems = the {name}, to within {err:.1e}.")


# --- 01 · diffusion basics -----------------------------------------------------------------------

def noisy_variance(my_variance, data, sigma: float, seed: int = 7):
    """01, exercise 1: the per-coordinate variance of ``data + σ n`` (measured here, with fresh noise)."""
    if _pending(my_variance):
        return None
    noise = torch.randn(data.shape, generator=torch.Generator().manual_seed(seed))
    measured = (data + sigma * noise).var(0).mean().item()
    assert abs(float(my_variance) / measured - 1) < 0.03, \
        f"measured {measured:.3f}; the variances of independent data and noise add"
    return _right(f"Right: variance {float(my_variance):.4f} (measured {measured:.4f}, within 3 %).")


def far_guess(my_guess, mixture, sigma: float = 100.0, seed: int = 7):
    """01, exercise 2: what the exact denoiser returns at a huge σ (the data's mean)."""
    if _pending(my_guess):
        return None
    my_guess = torch.as_tensor(my_guess, dtype=torch.float32)
    x = sigma * torch.randn(1000, 2, generator=torch.Generator().manual_seed(seed))
    d = mixture.denoiser(x, sigma)
    far = (d - my_guess).abs().max().item()
    assert far < 0.1, (f"D(x; {sigma:g}) ranges over {d.min(0).values.tolist()} … {d.max(0).values.tolist()}, "
                       f"up to {far:.2f} from your guess. Hint: with no information, guess the average.")
    return _right(f"Right: every D(x; {sigma:g}) is within {far:.3f} of ({my_guess[0]:.2f}, {my_guess[1]:.2f}), "
                  f"the mean of the data.")


# --- 02 · schedules and preconditioning ----------------------------------------------------------

def skip_out_crossing(my_crossing, sigma_datas=(0.05, 0.2, 0.5, 1.0)):
    """02, exercise 1: ``my_crossing(σ_d)``, the σ where c_skip = c_out/σ_d, against bisection."""
    if _pending(my_crossing):
        return None
    from .denoiser import c_out, c_skip

    lines = []
    for sd in sigma_datas:
        numeric = crossing(lambda s: c_skip(s, sd), lambda s: c_out(s, sd) / sd, 1e-4 * sd, 1e4 * sd)
        yours = float(my_crossing(sd))
        assert abs(yours / numeric - 1) < 1e-6, (
            f"σ_d = {sd}: the curves cross at σ = {numeric:.6f}, your formula gives {yours:.6f}. Hint: "
            "set c_skip = c_out/σ_d, write u = σ²/σ_d², and solve the quadratic in u.")
        lines.append(f"σ_d = {sd}: {numeric:.6f}")
    return _right("Right: your closed form matches the bisection at " + "; ".join(lines) + ".")


def fraction_below(my_fraction, draws, threshold: float = 0.01):
    """02, exercise 2: the share of training σ below ``threshold``, against the sampled share."""
    if _pending(my_fraction):
        return None
    measured = (draws < threshold).double().mean().item()
    stderr = math.sqrt(measured * (1 - measured) / len(draws))
    assert abs(float(my_fraction) - measured) < max(5 * stderr, 1e-3), (
        f"sampling says {measured:.4f}; standardise ln {threshold} with mean −3 and std 1, then apply Φ")
    return _right(f"Right: P(σ < {threshold}) = {float(my_fraction):.4f} (sampled {measured:.4f} ± {stderr:.4f}), "
                  f"about one training example in {1 / float(my_fraction):.0f}.")


# --- 03 · samplers -------------------------------------------------------------------------------

def error_ratio(my_ratio, coarse_error: float, fine_error: float):
    """03, exercise 1: by how much Heun's error shrinks when its steps double (measured: coarse/fine)."""
    if _pending(my_ratio):
        return None
    measured = coarse_error / fine_error
    assert float(my_ratio) > 0, "a ratio of errors is positive"
    assert abs(math.log2(float(my_ratio)) - math.log2(measured)) < 0.75, \
        f"measured ×{measured:.1f}; an order-p method's error scales like (step size)^p"
    return _right(f"Right: you said ×{float(my_ratio):g}, the measurement says ×{measured:.1f} "
                  f"(within a factor 2^0.75 = 1.7).")


def adpm2_nfe(my_nfe, derivative, x, sigmas, seed: int = 1):
    """03, exercise 2: ADPM2's number of denoiser evaluations on the grid ``sigmas`` (runs it)."""
    if _pending(my_nfe):
        return None
    from .samplers import adpm2_steps

    last = list(adpm2_steps(derivative, x, sigmas, generator=torch.Generator().manual_seed(seed)))[-1]
    assert my_nfe == last.nfe, f"Step.nfe says {last.nfe}; ADPM2 makes N − 1 steps of 2 evaluations"
    return _right(f"Right: ADPM2 spends {last.nfe} evaluations in {last.i + 1} steps of a {len(sigmas) - 1}-step grid.")


# --- 04 · U-Net ----------------------------------------------------------------------------------

def paper_input(my_length, my_tokens, seconds: float = 5.0, sample_rate: int = 22050):
    """04, exercise 1: the shortest valid input for ``seconds`` of audio, and the bottleneck's tokens."""
    if _pending(my_length, my_tokens):
        return None
    from . import unet

    cfg = unet.PRESETS["paper"]
    length = unet.build("paper", device="meta").valid_length(math.ceil(seconds * sample_rate))
    tokens = {r["stage"]: r for r in unet.describe(cfg, length)}["mid"]["tokens"]
    assert my_length == length, f"Hint: round {math.ceil(seconds * sample_rate)} up to a multiple of {cfg.downsampling}."
    assert my_tokens == tokens, f"Hint: the bottleneck is {cfg.downsampling}× shorter than the input."
    return _right(f"Right: {seconds:g} s = {math.ceil(seconds * sample_rate)} samples -> a {length}-sample input "
                  f"({length // cfg.downsampling} × {cfg.downsampling}), and {tokens} attention tokens at the bottleneck.")


def wider_last_factor(my_cfg, my_params_change, my_mid_tokens, length: int = 32768):
    """04, exercise 2: ``tiny`` with its last factor 2 → 4: does the parameter count change, and the
    bottleneck's tokens for ``length`` samples."""
    if _pending(my_cfg, my_params_change, my_mid_tokens):
        return None
    from . import unet

    base = unet.num_parameters(unet.build("tiny", device="meta"))
    mine = unet.num_parameters(unet.build(my_cfg, device="meta"))
    tokens = {r["stage"]: r for r in unet.describe(my_cfg, length)}["mid"]["tokens"]
    assert my_cfg.factors == (4, 4, 4, 4), f"factors {my_cfg.factors}: change only tiny's last factor, 2 -> 4"
    assert bool(my_params_change) == (mine != base), \
        "Hint: the strided convolution's kernel is 2f + 1 long, the transposed one's 2f."
    assert my_mid_tokens == tokens, f"Hint: {length} / (8·4·4·4·4)."
    return _right(f"Right: {base:,} -> {mine:,} parameters ({mine - base:+,}); the bottleneck attends over "
                  f"{tokens} tokens instead of {length // unet.PRESETS['tiny'].downsampling}.")


# --- 05 · data -----------------------------------------------------------------------------------

def multi_source_count(my_count, root, threshold: float, chunk_length: int = 32768, split: str = "test"):
    """05, exercise 2: how many evaluation chunks keep at least two active stems at a raised silence
    ``threshold`` (counted here with ``EvalChunks``)."""
    if _pending(my_count):
        return None
    from .data import SILENCE_THRESHOLD, EvalChunks

    def count(th):
        return len(EvalChunks(root, split, chunk_length=chunk_length, min_active=2, threshold=th))

    total = len(EvalChunks(root, split, chunk_length=chunk_length))
    n, base = count(threshold), count(SILENCE_THRESHOLD)
    assert my_count == n, (f"{my_count} is too {'many' if my_count > n else 'few'}. Hint: a stem is silent when "
                           f"‖s‖₂/n < {threshold:g}; count the chunks where at least two stems are not.")
    return _right(f"Right: at threshold {threshold:g}, {n} of the {total} chunks keep two or more active stems "
                  f"(at the paper's {SILENCE_THRESHOLD:g}: {base}).")


# --- 06 · training -------------------------------------------------------------------------------

def zero_net_loss(my_loss, measured: float, tolerance: float = 0.1):
    """06, exercise 1: the do-nothing network's weighted loss at σ = 10 on louder data (measured)."""
    if _pending(my_loss):
        return None
    assert abs(float(my_loss) - measured) < tolerance, \
        f"measured {measured:.3f}. Hint: as σ grows the loss tends to s²/σ_d²."
    return _right(f"Right: you predicted {float(my_loss):.3f}, the zero network measures {measured:.3f}.")


def rank_samples(my_samples, step: int, rank: int, world_size: int, batch_size: int):
    """06, exercise 2: the global sample numbers ``rank`` trains on at ``step`` (from ``GlobalIndices``)."""
    if _pending(my_samples):
        return None
    from itertools import islice

    from .data import GlobalIndices

    per_rank = batch_size // world_size
    truth = list(islice(GlobalIndices(start=step * batch_size, rank=rank, world_size=world_size), per_rank))
    assert list(my_samples) == truth, (f"Hint: step {step} starts at global sample {step * batch_size}; "
                                       f"rank {rank} takes every {world_size}th from {step * batch_size + rank}.")
    return _right(f"Right: at step {step}, rank {rank} of {world_size} trains on global samples {truth}.")


# --- 07 · generation -----------------------------------------------------------------------------

def shuffled_pairing(my_shuffled, samples, drums: int, coherence=None):
    """07, exercise 1: every sample's own drums with the other stems of the *next* sample
    (``samples``: (N, K, T)). ``coherence(x) -> (same, other)`` is the notebook's measure; when given,
    the result line reports it for the shuffled set and for the generated one."""
    if _pending(my_shuffled):
        return None
    my_shuffled, samples = torch.as_tensor(my_shuffled), torch.as_tensor(samples)
    assert my_shuffled.shape == samples.shape, f"expected shape {tuple(samples.shape)}, got {tuple(my_shuffled.shape)}"
    assert torch.equal(my_shuffled[:, drums], samples[:, drums]), "keep each sample's own drums"
    others = [k for k in range(samples.shape[1]) if k != drums]
    assert torch.equal(my_shuffled[:, others], samples[:, others].roll(-1, dims=0)), \
        "pair the drums of sample i with the other stems of sample i + 1 (the last with the first)"
    if coherence is None:
        return _right("Right: each sample's drums now play with the next sample's other stems.")
    shuffled, (same, other) = coherence(my_shuffled)[0], coherence(samples)
    return _right(f"Right: onset coherence of the shuffled set {shuffled:.2f} = the 'other sample' number {other:.2f}; "
                  f"within a generated sample it is {same:.2f}.")


def start_rms(my_rms, sigma_max: float, data_rms: float | None = None):
    """07, exercise 2: the RMS of the sampler's starting point x = σ_max·n, n ~ N(0, I)."""
    if _pending(my_rms):
        return None
    assert abs(float(my_rms) / sigma_max - 1) < 0.05, \
        f"{float(my_rms):.3g}: the noise n has unit variance per sample and per stem; what does σ_max·n have?"
    louder = f", {float(my_rms) / data_rms:.0f}× a data mix's {data_rms:.2f}" if data_rms else ""
    return _right(f"Right: the starting noise has RMS {float(my_rms):.2f} ≈ σ_max = {sigma_max:g}{louder}.")


# --- 11 · reproducing the paper ------------------------------------------------------------------

def paper_chunks(my_chunks, my_dropped_seconds, seconds: float, sample_rate: int, chunk_length: int):
    """11, exercise 1: how many whole chunks a song of ``seconds`` gives, and the seconds dropped at its end."""
    if _pending(my_chunks, my_dropped_seconds):
        return None
    total = int(round(seconds * sample_rate))
    n = total // chunk_length
    dropped = (total - n * chunk_length) / sample_rate
    assert my_chunks == n, f"{my_chunks} chunks? Hint: only whole chunks of {chunk_length} samples count."
    assert abs(float(my_dropped_seconds) - dropped) < 0.01, \
        f"{float(my_dropped_seconds):.2f} s dropped? Hint: the samples left after the whole chunks, in seconds."
    return _right(f"Right: {seconds:g} s = {total:,} samples = {n} whole chunks of {chunk_length} samples, "
                  f"and the last {dropped:.2f} s (of a {chunk_length / sample_rate:.2f}-s chunk) are never scored.")


def window_mean(my_mean, windows, summary_value: float, stem: str = "bass"):
    """11, exercise 2: the mean over evaluation windows of one stem's SI-SDRi (``windows``: the
    per-window rows of ``metrics.evaluate``), which the summary reports."""
    if _pending(my_mean):
        return None
    per_window = [float(w[stem]) for w in windows]
    mean = sum(per_window) / len(per_window)
    assert abs(float(my_mean) - mean) < 1e-9, \
        f"{float(my_mean):.3f} dB. Hint: average the windows' '{stem}' values, every window once."
    assert abs(mean - summary_value) < 1e-9, f"the summary's {summary_value:.3f} dB is not the window mean {mean:.3f} dB"
    return _right(f"Right: the mean of {len(per_window)} windows' {stem} SI-SDRi is {mean:.2f} dB, "
                  f"the summary's number ({summary_value:.2f} dB).")
