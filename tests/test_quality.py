"""Quality measures for generated stems: the Fréchet distance, its ratio to real sets, tonality."""

import math

import numpy as np
import pytest
import torch

from msdm_tutorial import STEMS, quality
from msdm_tutorial.data.toy import synthesize_song
from msdm_tutorial.data.toyset import song_seed

SR = 22050
LENGTH = 32768


def _fd_via_product(a, b):
    """The same distance by another route: Tr((Σa Σb)^½) from the (real) eigenvalues of Σa Σb."""
    (ma, ca), (mb, cb) = quality.gaussian_stats(a), quality.gaussian_stats(b)
    cross = np.sqrt(np.clip(np.linalg.eigvals(ca @ cb).real, 0, None)).sum()
    return ((ma - mb) ** 2).sum() + np.trace(ca) + np.trace(cb) - 2 * cross


def test_frechet_distance_closed_forms():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(4000, 6)) @ rng.normal(size=(6, 6))
    b = rng.normal(size=(3000, 6)) * np.arange(1, 7) + 2.0
    assert quality.frechet_distance(a, a) == pytest.approx(0.0, abs=1e-8)
    assert quality.frechet_distance(a, b) == pytest.approx(_fd_via_product(a, b), rel=1e-8)
    assert quality.frechet_distance(a, b) == pytest.approx(quality.frechet_distance(b, a), rel=1e-8)
    shifted = a + np.array([3.0, 0, 0, 0, 0, 4.0])                     # same covariance: FD = |Δμ|² = 25
    assert quality.frechet_distance(a, shifted) == pytest.approx(25.0, rel=1e-9)


def test_spectral_flatness_separates_noise_from_tones():
    g = torch.Generator().manual_seed(0)
    t = torch.arange(LENGTH) / SR
    white = quality.white_noise(4, LENGTH, 0.1, g)
    assert quality.spectral_flatness(white) == pytest.approx(0.56, abs=0.03)
    chord = sum(torch.sin(2 * torch.pi * f * t) for f in (220.0, 277.2, 329.6)) * 0.1
    assert quality.spectral_flatness(chord) < 0.05
    pink = quality.pink_noise(4, LENGTH, 0.1, g)
    assert 0.05 < quality.spectral_flatness(pink) < quality.spectral_flatness(white)
    assert np.isnan(quality.spectral_flatness(torch.zeros(2, LENGTH)))


def test_pink_noise_has_a_one_over_f_spectrum_and_the_asked_rms():
    g = torch.Generator().manual_seed(1)
    x = quality.pink_noise(8, LENGTH, 0.05, g)
    assert x.pow(2).mean(-1).sqrt() == pytest.approx(torch.full((8,), 0.05), rel=1e-4)
    power = torch.fft.rfft(x.double()).abs().pow(2).mean(0)
    f = torch.fft.rfftfreq(LENGTH, 1 / SR)
    low = power[(f > 100) & (f < 200)].sum()            # one octave each: equal power for 1/f
    high = power[(f > 3200) & (f < 6400)].sum()
    assert float(low / high) == pytest.approx(1.0, rel=0.2)


@pytest.fixture(scope="module")
def toy_sets():
    """Disjoint sets of unseen toy songs, one 1.5-s clip each, sized as benchmarks/generation_quality.py
    sizes them: a reference of 32, four baselines of 16, and a held-out 16."""
    rng = np.random.default_rng(5)
    sets = []
    for s, n in enumerate((32, 16, 16, 16, 16, 16)):
        clips = []
        for i in range(n):
            x, _ = synthesize_song(song_seed(777, 100 * s + i), 3.0, SR)
            start = int(rng.integers(0, x.shape[-1] - LENGTH))
            clips.append(x[:, start:start + LENGTH])
        sets.append(torch.stack(clips))
    return sets


def test_distance_ratio_real_near_one_noise_far(toy_sets):
    """Calibration (16 draws of a held-out set, all four stems): real sets scored 0.36-2.44 and white
    noise 39-521, so 'real < 4' and 'noise > 10 x real' both hold with room and would catch a swap."""
    ref, *baselines, held = toy_sets
    g = torch.Generator().manual_seed(2)
    for k, stem in enumerate(STEMS):
        base = [b[:, k] for b in baselines]
        real = quality.distance_ratio(held[:, k], ref[:, k], base, SR)
        rms = float(held[:, k].pow(2).mean().sqrt())
        noise = quality.distance_ratio(quality.white_noise(16, LENGTH, rms, g), ref[:, k], base, SR)
        other = quality.distance_ratio(held[:, (k + 2) % 4], ref[:, k], base, SR)
        assert 0.2 < real < 4, f"{stem}: real held-out songs score {real:.2f}"
        assert noise > 10 * max(real, 1.0), f"{stem}: white noise scores only {noise:.1f} (real {real:.2f})"
        assert other > 4, f"{stem}: another instrument's stems score {other:.1f}, as if they were {stem}"


def test_distance_ratio_needs_equal_set_sizes(toy_sets):
    ref, b1, b2, *_, held = toy_sets
    with pytest.raises(ValueError, match="equal size"):
        quality.distance_ratio(held[:4, 0], ref[:, 0], [b1[:, 0], b2[:, 0]], SR)


def test_pooled_ratio_is_the_ratio_of_summed_distances(toy_sets):
    """Two draws (reference, real sets) of the same stem: the pooled ratio is Σ FD / Σ baseline, lies
    between the single-draw ratios, equals one draw's ratio when both draws are that draw, and refuses a
    ratio count that is not one per draw."""
    ref, b1, b2, b3, b4, held = toy_sets
    k = STEMS.index("drums")
    draws = [quality.DistanceScale(ref[:16, k], [b1[:, k], b2[:, k]], SR),
             quality.DistanceScale(ref[16:, k], [b3[:, k], b4[:, k]], SR)]
    ratios = [d(held[:, k]) for d in draws]
    fd = [quality.frechet_distance(quality.log_mel_frames(held[:, k], SR), d.reference) for d in draws]
    pooled = quality.pooled_ratio(draws, ratios)
    assert pooled == pytest.approx(sum(fd) / (draws[0].baseline + draws[1].baseline), rel=1e-9)
    assert min(ratios) <= pooled <= max(ratios)
    assert quality.pooled_ratio([draws[0]] * 2, [ratios[0]] * 2) == pytest.approx(ratios[0])
    with pytest.raises(ValueError, match="one ratio per draw"):
        quality.pooled_ratio(draws, ratios[:1])


def test_wiener_denoiser_reaches_its_closed_form_error_on_gaussian_stems():
    """For stationary Gaussian stems with spectrum S(f), the linear Wiener filter's relative error is
    Σ_f S σ²/(S + σ²) / Σ_f S; a filter with the wrong spectrum does worse."""
    g = torch.Generator().manual_seed(0)
    T = 4096
    f = torch.arange(T // 2 + 1, dtype=torch.float64)
    shape = torch.stack([1 / (1 + (f / 40) ** 2), torch.exp(-((f - 600) / 80) ** 2) + 1e-4])    # (2, F)
    spectrum = torch.randn(256, 2, T // 2 + 1, dtype=torch.complex128, generator=g) * shape.sqrt()
    clips = torch.fft.irfft(spectrum, n=T, norm="ortho").float()
    wiener = quality.WienerDenoiser.fit(clips[:192])
    for sigma in (0.1, 1.0):
        err = quality.denoising_error(wiener, clips[192:], [sigma], generator=g)[sigma]["relative"]
        power = wiener.power
        expected = (power * sigma ** 2 / (power + sigma ** 2)).sum(-1) / power.sum(-1)
        assert np.allclose(err, expected.numpy(), rtol=0.1), (sigma, err, expected)
        swapped = quality.WienerDenoiser(wiener.power.flip(0))                 # each stem gets the other's spectrum
        worse = quality.denoising_error(swapped, clips[192:], [sigma], generator=g)[sigma]["relative"]
        assert all(w > e * 1.2 for w, e in zip(worse, err)), (worse, err)


def test_best_gain_is_one_for_the_wiener_filter_and_shows_a_shrinking_or_leaky_denoiser():
    """The orthogonality principle: the best linear (and the MMSE) estimate needs no extra gain;
    an estimate halved needs 2; one that passes noise on needs less than 1."""
    g = torch.Generator().manual_seed(0)
    T = 4096
    f = torch.arange(T // 2 + 1, dtype=torch.float64)
    shape = torch.stack([1 / (1 + (f / 40) ** 2), torch.exp(-((f - 600) / 80) ** 2) + 1e-4])
    spectrum = torch.randn(256, 2, T // 2 + 1, dtype=torch.complex128, generator=g) * shape.sqrt()
    clips = torch.fft.irfft(spectrum, n=T, norm="ortho").float()
    wiener = quality.WienerDenoiser.fit(clips[:192])
    held = clips[192:]
    for sigma in (0.03, 0.3):
        gain = quality.denoising_error(wiener, held, [sigma], generator=g)[sigma]["best_gain"]
        assert np.allclose(gain, 1.0, atol=0.1), (sigma, gain)
        halved = quality.denoising_error(lambda x, s: 0.5 * wiener(x, s), held, [sigma], generator=g)[sigma]
        assert np.allclose(halved["best_gain"], 2.0, atol=0.2), halved["best_gain"]
    leaky = quality.denoising_error(lambda x, s: wiener(x, s) + (x - wiener(x, s)) / 2, held, [1.0],
                                    generator=g)[1.0]["best_gain"]               # half the removed noise back
    assert all(v < 0.9 for v in leaky), leaky


def test_context_use_tells_a_joint_denoiser_from_independent_ones():
    """Two stems that are one signal: a denoiser that averages them (the joint MMSE answer) halves the
    noise in its own song and mixes in a wrong stem in a foreign one; the Wiener filter, stem by stem,
    scores the same either way."""
    g = torch.Generator().manual_seed(0)
    signal = torch.randn(8, 1, 512, generator=g)
    x0 = torch.cat([signal, signal], 1)                                   # stem 1 = stem 0 in every song
    joint = lambda x, sigma: x.mean(1, keepdim=True).expand_as(x)        # noqa: E731
    use = quality.context_use(joint, x0, 0.3, generator=g)
    assert np.allclose(use["own"], 0.3 ** 2 / 2, rtol=0.15), use          # σ²/2 over unit power
    assert all(f > o + 0.3 for f, o in zip(use["foreign"], use["own"])), use   # ≈ ½ + σ²/2
    wiener = quality.WienerDenoiser.fit(torch.randn(64, 2, 512, generator=g))
    independent = quality.context_use(wiener, x0, 0.3, generator=g)
    assert np.allclose(independent["foreign"], independent["own"], rtol=1e-5), independent
    with pytest.raises(ValueError, match="two songs"):
        quality.context_use(joint, x0[:1], 0.3)
    with pytest.raises(ValueError, match="shift"):
        quality.context_use(joint, x0, 0.3, shift=8)


def test_tonality_places_real_clips_at_one_and_white_noise_near_zero():
    t = torch.arange(16384) / 22050
    real = torch.stack([0.1 * torch.sin(2 * torch.pi * f * t) for f in (220.0, 330.0, 440.0, 550.0)])
    g = torch.Generator().manual_seed(0)
    assert quality.tonality(real, real, g)["share"] == pytest.approx(1.0)
    noisy = quality.white_noise(4, 16384, 0.07, torch.Generator().manual_seed(1))
    result = quality.tonality(noisy, real, torch.Generator().manual_seed(0))
    assert result["white noise"] - result["real"] > 20 and abs(result["share"]) < 0.1, result


def test_silence_leak_of_identity_halving_silent_and_shrinking_denoisers():
    def g():
        return torch.Generator().manual_seed(0)

    identity = quality.silence_leak(lambda x, sigma: x, (2, 4, 4096), [0.01, 0.1], generator=g())
    assert all(abs(v) < 0.3 for per in identity.values() for v in per)       # the draw's RMS is σ within 0.8 %
    half = quality.silence_leak(lambda x, sigma: x / 2, (2, 4, 4096), [0.01], generator=g())[0.01]
    assert all(abs(h - i + 6.02) < 0.01 for h, i in zip(half, identity[0.01]))
    # the Wiener filter fitted on stems with no energy at all removes everything it sees
    silent = quality.WienerDenoiser(torch.zeros(4, 4096 // 2 + 1))
    assert max(quality.silence_leak(silent, (2, 4, 4096), [0.01], generator=g())[0.01]) < -200
    # the ideal denoiser of Gaussian stems of power P shrinks by P / (P + σ²): it leaks *more* as σ → 0
    shrink = lambda x, sigma: x * 0.01 / (0.01 + sigma ** 2)            # noqa: E731
    leak = quality.silence_leak(shrink, (2, 4, 4096), [0.3, 0.1], generator=g())
    for sigma, per in leak.items():
        assert all(abs(v - 20 * math.log10(0.01 / (0.01 + sigma ** 2))) < 0.3 for v in per)
