"""msdm_tutorial.plotting: players and figures accept tensors and arrays, survive silence, label axes."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from msdm_tutorial import plotting, samplers, schedules, toy2d  # noqa: E402

SR = 8000


def tone(freq=440.0, seconds=0.25, amp=0.3):
    t = torch.arange(int(SR * seconds)) / SR
    return amp * torch.sin(2 * torch.pi * freq * t)


def test_use_style_sets_rcparams():
    plotting.use_style()
    assert matplotlib.rcParams["axes.grid"] is True
    assert matplotlib.rcParams["axes.spines.top"] is False


@pytest.mark.parametrize("make", [lambda: tone(), lambda: tone().numpy(), lambda: tone()[None], lambda: tone().tolist()])
def test_play_accepts_tensor_array_list(make):
    audio = plotting.play(make(), SR)
    assert audio.data[24:28] == SR.to_bytes(4, "little")  # the WAV header's sample rate
    assert "<audio" in audio._repr_html_()


def test_play_silence_does_not_crash():
    audio = plotting.play(torch.zeros(SR // 10), SR)
    assert audio.data  # a valid (silent) wav


def test_play_normalises_to_peak_and_clips_raw_levels():
    a = plotting._scaled(np.array([0.0, 0.1, -0.2], dtype=np.float32), 0.9)
    assert np.isclose(np.abs(a).max(), 0.9)
    assert np.abs(plotting._scaled(np.array([3.0, -2.0]), None)).max() == 1.0
    plotting.play(torch.tensor([3.0, -2.0, 0.5]), SR, normalize=False)   # loud raw audio is clipped, not an error


def test_play_rejects_bad_input_with_a_message():
    with pytest.raises(ValueError, match="1-D"):
        plotting.play(torch.zeros(2, 100), SR)
    with pytest.raises(ValueError, match="NaN"):
        plotting.play(torch.tensor([0.0, float("nan")]), SR)
    with pytest.raises(ValueError, match="empty"):
        plotting.play(torch.zeros(0), SR)


def test_players_grid_has_one_labelled_player_per_stem():
    import ipywidgets as widgets

    stems = {"bass": tone(55), "drums": torch.zeros(SR // 4), "guitar": tone(330).numpy(), "piano": tone(523)}
    stems["mix"] = sum(torch.as_tensor(v) for v in stems.values())
    box = plotting.players(stems, SR, columns=4)
    assert isinstance(box, widgets.VBox)
    cells = [cell for row in box.children for cell in row.children]
    assert len(box.children) == 2 and len(cells) == 5
    for name, cell in zip(stems, cells):
        label, player = cell.children
        assert name in label.value and "<audio" in player.value
    for mode in ("each", None):
        plotting.players(stems, SR, normalize=mode)
    with pytest.raises(ValueError, match="normalize"):
        plotting.players(stems, SR, normalize="loud")


def test_spectrogram_peak_is_at_the_tone_frequency():
    db, times, freqs = plotting.spectrogram_db(tone(1000.0, seconds=0.5), SR, n_fft=512, hop_length=128)
    assert db.shape == (len(freqs), len(times))
    assert abs(freqs[db.mean(1).argmax()] - 1000.0) <= SR / 512
    assert times[-1] == pytest.approx(0.5, abs=128 / SR)
    silent, _, _ = plotting.spectrogram_db(torch.zeros(1000), SR, top_db=60)
    assert np.all(silent == -60)


def full_scale_sine(freq, sample_rate=22050, seconds=1.0):
    t = torch.arange(int(sample_rate * seconds)) / sample_rate
    return torch.sin(2 * torch.pi * freq * t)


def test_a_full_scale_sine_peaks_at_0_dB_re_full_scale():
    """dB re full scale: the STFT is divided by the window's gain, sum(w)/2, so amplitude 1 -> 0 dB."""
    sr, n_fft = 22050, 1024
    on_bin = 40 * sr / n_fft                                        # 861.3 Hz, the centre of bin 40
    db, _, _ = plotting.spectrogram_db(full_scale_sine(on_bin, sr), sr, n_fft=n_fft)
    assert abs(db.max()) <= 1.0, f"a full-scale sine peaks at {db.max():+.2f} dB, not 0 dB re full scale"
    # the bug this pins: the raw |STFT| of that sine peaks at sum(hann)/2 = n_fft/4, i.e. +48 dB
    raw = torch.stft(full_scale_sine(on_bin, sr), n_fft, hop_length=256, window=torch.hann_window(n_fft),
                     center=True, return_complex=True).abs()
    assert abs(20 * np.log10(float(raw.max()))) > 40, "the un-normalised STFT would fail the check above"
    for freq in (55.0, 440.0, 1000.0, 5000.0):                      # between bins: Hann scalloping, <= 1.42 dB
        peak = plotting.spectrogram_db(full_scale_sine(freq, sr), sr, n_fft=n_fft)[0].max()
        assert -1.5 <= peak <= 0.01, f"{freq} Hz peaks at {peak:+.2f} dBFS"
    half = plotting.spectrogram_db(0.5 * full_scale_sine(on_bin, sr), sr, n_fft=n_fft)[0].max()
    assert half == pytest.approx(20 * np.log10(0.5), abs=0.05), "amplitude 0.5 is −6 dB re full scale"
    relative = plotting.spectrogram_db(0.5 * full_scale_sine(on_bin, sr), sr, n_fft=n_fft, reference=None)[0]
    assert relative.max() == pytest.approx(0.0, abs=1e-4), "reference=None: 0 dB at the loudest bin"


def test_spectrogram_draws_dBFS_with_a_colour_bar_by_default():
    fig, (a, b) = plt.subplots(1, 2)
    image = plotting.spectrogram(a, full_scale_sine(1000.0, SR, 0.5), SR)
    assert image.get_clim() == (-80.0, 0.0)
    assert float(np.max(image.get_array())) == pytest.approx(0.0, abs=1.5)
    bars = [ax for ax in fig.axes if ax not in (a, b)]
    assert len(bars) == 1 and bars[0].get_ylabel() == plotting.DB_LABEL
    assert a.get_xlabel() == "time (s)" and "kHz" in a.get_ylabel()
    plotting.spectrogram(b, full_scale_sine(1000.0, SR, 0.5), SR, colorbar=False)
    assert len(fig.axes) == 3
    plt.close(fig)


def test_stems_figure_labels_axes_in_seconds_hertz_decibels():
    stems = {"bass": tone(110), "piano": tone(440)}
    fig = plotting.stems_figure(stems, SR, mix=stems["bass"] + stems["piano"])
    axes = fig.axes
    assert len(axes) == 3 * 2 + 3  # waveform + spectrogram per row, plus one colorbar per spectrogram
    labels = " ".join(ax.get_xlabel() + " " + ax.get_ylabel() for ax in axes)
    assert "time (s)" in labels and "frequency (Hz)" in labels and plotting.DB_LABEL in labels
    meshes = [m for ax in axes for m in ax.collections if type(m).__name__ == "QuadMesh"]
    assert meshes and all(m.get_clim() == (-80.0, 0.0) for m in meshes), "one dBFS colour scale for every row"
    assert [ax.get_title(loc="left") for ax in axes[0:6:2]] == ["bass", "piano", "mix"]
    plt.close(fig)


def test_scatter_and_trajectory_plot_from_a_sampler_generator():
    gm = toy2d.ring_mixture(4)
    sigmas = schedules.karras_sigmas(6, 0.01, 10.0)
    x = samplers.initial_noise((50, 2), sigmas, generator=torch.Generator().manual_seed(0))
    fig, (a, b) = plt.subplots(1, 2)
    plotting.scatter2d(a, gm.sample(100), lim=3)
    paths = plotting.trajectory_plot(b, samplers.heun_steps(samplers.score_derivative(gm.denoiser), x, sigmas),
                                     x_init=x, num_paths=10, data=gm.sample(100))
    assert paths.shape == (7, 50, 2)
    assert np.allclose(paths[0], x.numpy())
    assert b.get_xlabel() == "$x_1$"
    with pytest.raises(ValueError, match=r"\(N, 2\)"):
        plotting.scatter2d(a, torch.zeros(10, 3))
    plt.close(fig)


def test_loglog_error_draws_one_line_per_curve_plus_guides():
    fig, ax = plt.subplots()
    plotting.loglog_error(ax, {"euler": ([4, 8, 16], [1.0, 0.5, 0.25]), "heun": ([7, 15, 31], [0.5, 0.12, 0.03])})
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log"
    assert len(ax.lines) == 2 + 2
    plt.close(fig)


def test_markdown_table_and_score_cells():
    summary = {"si_sdri": {"bass": 1.234, "drums": -0.5}, "average": 0.367}
    text = plotting.markdown_table(["method", "bass", "drums", "average"], [["MSDM", *plotting.score_cells(summary)]])
    assert text.splitlines() == ["| method | bass | drums | average |", "|---|---:|---:|---:|",
                                 "| MSDM | 1.23 | -0.50 | **0.37** |"]
    assert plotting.markdown_table(["a", "b"], [[1, 2]], align="ll").splitlines()[1] == "|---|---|"
    with pytest.raises(ValueError, match="one letter per column"):
        plotting.markdown_table(["a", "b"], [], align="l")
