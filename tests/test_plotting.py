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


def test_stems_figure_labels_axes_in_seconds_hertz_decibels():
    stems = {"bass": tone(110), "piano": tone(440)}
    fig = plotting.stems_figure(stems, SR, mix=stems["bass"] + stems["piano"])
    axes = fig.axes
    assert len(axes) == 3 * 2 + 3  # waveform + spectrogram per row, plus one colorbar per spectrogram
    labels = " ".join(ax.get_xlabel() + " " + ax.get_ylabel() for ax in axes)
    assert "time (s)" in labels and "frequency (Hz)" in labels and "dB" in labels
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
