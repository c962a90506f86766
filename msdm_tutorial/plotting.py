"""Figures and sounds for the course: one matplotlib style, one audio player, a few figures.

* ``use_style()``                       the course's matplotlib look (call once per notebook)
* ``play(audio, sample_rate)``          an ``IPython.display.Audio`` player for a 1-D signal
* ``players(stems, sample_rate)``       a grid of labelled players, one per stem (ipywidgets)
* ``spectrogram_db(audio, sample_rate)`` a magnitude STFT in dB re full scale, with its time and frequency axes
* ``spectrogram(ax, audio, sample_rate)`` draw one, in dB re full scale, with a colour bar
* ``stems_figure(stems, sample_rate)``  waveform + spectrogram per stem (and for the mixture)
* ``scatter2d(ax, points)``             a 2-D point cloud, equal axes
* ``trajectory_plot(ax, steps)``        sampler paths through the plane, from noise to data
* ``loglog_error(ax, curves)``          error vs number of denoiser evaluations, log-log
* ``markdown_table(header, rows)``      a result table as markdown text (notebooks, benchmarks)
* ``score_cells(summary)``              a :func:`metrics.evaluate` summary as table cells (dB per stem, average)

Everything accepts torch tensors or numpy arrays and returns the matplotlib/ipywidgets object it
made, so later notebooks (the sampling lab) can compose them.
"""

from __future__ import annotations

from typing import Iterable, Mapping, Sequence

import numpy as np
import torch
from cycler import cycler

#: The course's matplotlib settings (``use_style`` applies them).
STYLE = {
    "figure.figsize": (6.4, 4.0),
    "figure.dpi": 100,
    "savefig.dpi": 150,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "grid.linewidth": 0.6,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.titlesize": 11,
    "axes.labelsize": 10,
    "xtick.labelsize": 9,
    "ytick.labelsize": 9,
    "legend.fontsize": 9,
    "legend.frameon": False,
    "lines.linewidth": 1.5,
    "image.cmap": "magma",
    "axes.prop_cycle": cycler(
        color=["#1b6ca8", "#e4572e", "#29a36a", "#9b5de5", "#f3a712", "#4d4d4d", "#17becf", "#bcbd22"]),
}

#: One colour per stem, in the order of ``msdm_tutorial.STEMS`` (bass, drums, guitar, piano), then the mix.
STEM_COLORS = {"bass": "#1b6ca8", "drums": "#e4572e", "guitar": "#29a36a", "piano": "#9b5de5", "mix": "#4d4d4d"}


def markdown_table(header: Sequence[str], rows: Iterable[Sequence[object]], align: str | None = None) -> str:
    """A markdown table: ``header`` names the columns, each row gives its cells (``str()`` of each);
    ``align`` has one letter per column, ``l`` or ``r`` (default: the first column left, the others right)."""
    align = align or "l" + "r" * (len(header) - 1)
    if len(align) != len(header):
        raise ValueError(f"align {align!r}: one letter per column ({len(header)})")
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---:" if a == "r" else "---" for a in align) + "|"]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def score_cells(summary: Mapping, stems: Sequence[str] | None = None) -> list[str]:
    """The cells of one result row: SI-SDRi (dB) per stem of a :func:`msdm_tutorial.metrics.evaluate`
    summary, then its average in bold."""
    stems = list(summary["si_sdri"]) if stems is None else stems
    return [f"{summary['si_sdri'][k]:.2f}" for k in stems] + [f"**{summary['average']:.2f}**"]


def use_style() -> None:
    """Apply the course style to matplotlib (idempotent)."""
    import matplotlib

    matplotlib.rcParams.update(STYLE)


def _as_numpy(x, name: str = "audio") -> np.ndarray:
    if isinstance(x, torch.Tensor):
        x = x.detach().to("cpu", torch.float32).numpy()
    return np.asarray(x, dtype=np.float32)


def _as_signal(audio, name: str = "audio") -> np.ndarray:
    """A finite 1-D float32 signal (size-1 axes are squeezed away)."""
    a = _as_numpy(audio, name)
    if a.ndim > 1:
        a = a.squeeze()
    if a.ndim != 1:
        raise ValueError(f"{name} must be a 1-D (mono) signal, got shape {tuple(_as_numpy(audio).shape)}")
    if a.size == 0:
        raise ValueError(f"{name} is empty")
    if not np.isfinite(a).all():
        raise ValueError(f"{name} contains {int((~np.isfinite(a)).sum())} NaN/Inf value(s)")
    return a


def _scaled(a: np.ndarray, peak: float | None, reference: float | None = None) -> np.ndarray:
    """Scale so that ``reference`` (default: |a|'s max) maps to ``peak``; silence stays silent; clip to [−1, 1]."""
    if peak is not None:
        ref = float(np.abs(a).max()) if reference is None else reference
        if ref > 0:
            a = a * (peak / ref)
    return np.clip(a, -1.0, 1.0)


def play(audio, sample_rate: int = 22050, normalize: bool = True, peak: float = 0.9):
    """An audio player for a 1-D signal (tensor, ndarray or list).

    ``normalize=True`` scales the loudest sample to ``peak``; ``False`` plays the true level (clipped
    to [−1, 1]). A silent signal plays silence instead of failing.
    """
    from IPython.display import Audio

    a = _scaled(_as_signal(audio), peak if normalize else None)
    return Audio(a, rate=int(sample_rate), normalize=False)


def players(stems: Mapping[str, object], sample_rate: int = 22050, normalize: str | None = "together",
            columns: int = 4, peak: float = 0.9):
    """A grid of labelled players, one per entry of ``stems`` (name → 1-D signal).

    ``normalize``: ``"together"`` scales every signal by the same factor (the loudest one reaches
    ``peak``), so you hear the true balance between stems; ``"each"`` scales each to ``peak``;
    ``None`` plays raw levels. Returns an ``ipywidgets.VBox`` (display it, or leave it last in a cell).
    """
    import ipywidgets as widgets

    if normalize not in ("together", "each", None):
        raise ValueError(f"normalize must be 'together', 'each' or None, got {normalize!r}")
    if not stems:
        raise ValueError("stems is empty: pass a dict name -> 1-D signal")
    signals = {name: _as_signal(a, f"stems[{name!r}]") for name, a in stems.items()}
    together = max(float(np.abs(a).max()) for a in signals.values()) if normalize == "together" else None
    cells = []
    for name, a in signals.items():
        if normalize == "together":
            a = _scaled(a, peak, together)
        else:
            a = _scaled(a, peak if normalize == "each" else None)
        html = play(a, sample_rate, normalize=False)._repr_html_()
        color = STEM_COLORS.get(name, "#333")
        label = widgets.HTML(f"<b style='color:{color}'>{name}</b> "
                             f"<span style='color:#777'>{a.size / sample_rate:.2f} s</span>")
        cells.append(widgets.VBox([label, widgets.HTML(html)], layout=widgets.Layout(margin="0 12px 6px 0")))
    rows = [widgets.HBox(cells[i:i + columns]) for i in range(0, len(cells), columns)]
    return widgets.VBox(rows)


def spectrogram_db(audio, sample_rate: int = 22050, n_fft: int = 1024, hop_length: int = 256,
                   reference: float | None = 1.0, top_db: float = 80.0):
    """Magnitude STFT (Hann window) in dB: returns ``(S_db (freqs, frames), times_s, freqs_hz)``.

    The magnitudes are normalised by the window's gain (``sum(window) / 2``), so a sine of
    amplitude ``A`` centred on a frequency bin reads ``20·log10(A / reference)`` dB. With the default
    ``reference=1.0`` that is **dB relative to full scale**: a full-scale sine (amplitude 1) peaks at
    0 dB (between two bins, the Hann window's scalloping loss lowers it by at most 1.4 dB).
    ``reference=None`` puts 0 dB at the loudest bin of this signal instead. Values are floored at
    ``−top_db`` below 0 dB; a silent signal gives all ``−top_db``.
    """
    a = torch.from_numpy(_as_signal(audio))
    if a.numel() < n_fft:
        a = torch.nn.functional.pad(a, (0, n_fft - a.numel()))
    window = torch.hann_window(n_fft)
    spec = torch.stft(a, n_fft, hop_length=hop_length, window=window, center=True,
                      return_complex=True).abs() * (2.0 / float(window.sum()))   # a sine of amplitude A -> A
    ref = float(spec.max()) if reference is None else float(reference)
    if ref <= 0:                                   # silence: nothing to be relative to
        ref = 1.0
    db = 20 * torch.log10(spec.clamp_min(1e-10) / ref)
    db = db.clamp_min(-top_db).numpy()
    times = np.arange(db.shape[1]) * hop_length / sample_rate
    freqs = np.fft.rfftfreq(n_fft, 1.0 / sample_rate)
    return db, times, freqs


#: The colour-bar label of every spectrogram of the course.
DB_LABEL = "dB re full scale"


def spectrogram(ax, audio, sample_rate: int = 22050, n_fft: int = 1024, hop_length: int = 256,
                top_db: float = 80.0, max_db: float = 0.0, max_freq: float | None = None, kilohertz: bool = True,
                colorbar: bool = True, title: str | None = None):
    """Draw a spectrogram on ``ax`` in dB re full scale (a full-scale sine at 0 dB), with a colour bar.

    The colour scale spans ``[max_db − top_db, max_db]`` (default [−80, 0] dBFS), the same for every
    call, so spectrograms drawn with the same settings compare. ``colorbar=False`` leaves the bar
    out (for a grid of spectrograms, give the figure one bar: ``fig.colorbar(image, ax=axes)``).
    Returns the image (a ``matplotlib.image.AxesImage``).
    """
    db, times, freqs = spectrogram_db(audio, sample_rate, n_fft, hop_length, reference=1.0, top_db=1e9)
    scale = 1000.0 if kilohertz else 1.0
    duration = _as_signal(audio).size / sample_rate
    image = ax.imshow(db, origin="lower", aspect="auto", vmin=max_db - top_db, vmax=max_db, interpolation="nearest",
                      extent=(0, duration, 0, freqs[-1] / scale))
    ax.set(xlabel="time (s)", ylabel="frequency (kHz)" if kilohertz else "frequency (Hz)",
           ylim=(0, (max_freq or sample_rate / 2) / scale))
    ax.grid(False)
    if title:
        ax.set_title(title)
    if colorbar:
        ax.figure.colorbar(image, ax=ax, label=DB_LABEL, pad=0.01)
    return image


def stems_figure(stems: Mapping[str, object], sample_rate: int = 22050, mix=None, n_fft: int = 1024,
                 hop_length: int = 256, top_db: float = 80.0, max_freq: float | None = None, title: str | None = None,
                 max_db: float = 0.0):
    """One row per stem (and one for ``mix`` if given): the waveform (amplitude vs s) and its
    spectrogram (Hz vs s, in dB re full scale on one colour scale ``[max_db − top_db, max_db]`` for
    every row, so levels compare; a full-scale sine reads 0 dB). One colour bar per spectrogram."""
    import matplotlib.pyplot as plt

    rows = {name: _as_signal(a, f"stems[{name!r}]") for name, a in stems.items()}
    if mix is not None:
        rows["mix"] = _as_signal(mix, "mix")
    if not rows:
        raise ValueError("stems is empty: pass a dict name -> 1-D signal")
    amp = max(float(np.abs(a).max()) for a in rows.values()) or 1.0
    fig, axes = plt.subplots(len(rows), 2, figsize=(11, 1.9 * len(rows) + 0.6), squeeze=False,
                             gridspec_kw={"width_ratios": [1, 1.25]}, sharex="col")
    for (name, a), (ax_w, ax_s) in zip(rows.items(), axes):
        color = STEM_COLORS.get(name, "#333")
        t = np.arange(a.size) / sample_rate
        ax_w.plot(t, a, color=color, lw=0.6)
        ax_w.set(ylim=(-1.05 * amp, 1.05 * amp), ylabel="amplitude")
        ax_w.set_title(name, loc="left", color=color)
        db, times, freqs = spectrogram_db(a, sample_rate, n_fft, hop_length, reference=1.0, top_db=1e9)
        im = ax_s.pcolormesh(times, freqs, np.maximum(db, max_db - top_db), shading="auto", vmin=max_db - top_db,
                             vmax=max_db, rasterized=True)
        ax_s.set(ylabel="frequency (Hz)", ylim=(0, max_freq or sample_rate / 2))
        ax_s.grid(False)
        fig.colorbar(im, ax=ax_s, label=DB_LABEL, pad=0.01)
    axes[-1, 0].set_xlabel("time (s)")
    axes[-1, 1].set_xlabel("time (s)")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def scatter2d(ax, points, label: str | None = None, color=None, s: float = 3.0, alpha: float = 0.5,
              lim: float | None = None, title: str | None = None):
    """Scatter an ``(N, 2)`` point cloud on equal axes (``lim`` sets ±lim on both)."""
    p = _as_numpy(points, "points")
    if p.ndim != 2 or p.shape[1] != 2:
        raise ValueError(f"points must have shape (N, 2), got {tuple(p.shape)}")
    ax.scatter(p[:, 0], p[:, 1], s=s, alpha=alpha, color=color, label=label, linewidths=0)
    ax.set_aspect("equal")
    if lim is not None:
        ax.set(xlim=(-lim, lim), ylim=(-lim, lim))
    ax.set(xlabel="$x_1$", ylabel="$x_2$")
    if title:
        ax.set_title(title)
    return ax


def _path_array(steps, x_init=None) -> np.ndarray:
    """Stack sampler states into a ``(T, N, 2)`` array (``x_init`` first when given)."""
    states = [] if x_init is None else [_as_numpy(x_init, "x_init")]
    for st in steps:
        states.append(_as_numpy(st.x if hasattr(st, "x") else st, "state"))   # a samplers.Step or a state
    if not states:
        raise ValueError("no steps to plot")
    shapes = {a.shape for a in states}
    if len(shapes) != 1 or len(states[0].shape) != 2 or states[0].shape[1] != 2:
        raise ValueError(f"every state must be the same (N, 2) array, got shapes {sorted(shapes)}")
    return np.stack(states)


def trajectory_plot(ax, steps: Iterable, x_init=None, num_paths: int = 40, data=None, cmap: str = "viridis",
                    lim: float | None = None, title: str | None = None, lw: float = 0.8):
    """Draw sampler paths in the plane: ``steps`` is an iterable of ``samplers.Step`` (e.g. a
    ``heun_steps`` generator) or of ``(N, 2)`` states; ``x_init`` the starting noise.

    Each of the first ``num_paths`` points is drawn as a line coloured from start (dark) to end
    (bright), with its end marked; ``data`` (optional ``(M, 2)``) is drawn underneath in grey.
    Returns the ``(T, N, 2)`` array of states so you can measure what you see.
    """
    import matplotlib.pyplot as plt
    from matplotlib.collections import LineCollection

    paths = _path_array(steps, x_init)
    if data is not None:
        scatter2d(ax, data, color="0.75", s=2, alpha=0.4, label="data")
    n = min(num_paths, paths.shape[1])
    colors = plt.get_cmap(cmap)(np.linspace(0, 1, max(paths.shape[0] - 1, 1)))
    for j in range(n):
        segs = np.stack([paths[:-1, j], paths[1:, j]], axis=1)
        ax.add_collection(LineCollection(segs, colors=colors, linewidths=lw, alpha=0.9))
    ax.scatter(paths[-1, :n, 0], paths[-1, :n, 1], s=10, color=colors[-1], edgecolors="k", linewidths=0.3,
               zorder=3, label="end")
    ax.set_aspect("equal")
    if lim is None:
        lim = float(np.abs(paths[:, :n]).max()) * 1.05
    ax.set(xlim=(-lim, lim), ylim=(-lim, lim), xlabel="$x_1$", ylabel="$x_2$")
    if title:
        ax.set_title(title)
    return paths


def loglog_error(ax, curves: Mapping[str, tuple[Sequence[float], Sequence[float]]], ylabel: str = "error",
                 slopes: Sequence[int] = (1, 2), anchor: tuple[float, float] | None = None):
    """Error against the number of denoiser evaluations (NFE) on log-log axes.

    ``curves`` maps a label to ``(nfe, error)``; dotted guide lines show slopes −1, −2, … (an
    order-p method's error falls like NFE^−p), starting at ``anchor`` (default: the first point
    of the first curve).
    """
    if not curves:
        raise ValueError("curves is empty: pass a dict label -> (nfe, error)")
    for name, (nfe, err) in curves.items():
        ax.loglog(np.asarray(nfe, dtype=float), np.asarray(err, dtype=float), "o-", ms=4, label=name)
    xs = np.concatenate([np.asarray(n, dtype=float) for n, _ in curves.values()])
    first_nfe, first_err = next(iter(curves.values()))
    x0, y0 = anchor if anchor is not None else (float(first_nfe[0]), float(first_err[0]))
    grid = np.geomspace(x0, xs.max(), 20)
    for p in slopes:
        ax.loglog(grid, y0 * (grid / x0) ** (-p), ":", color="0.5", lw=1)
        ax.annotate(f"slope −{p}", (grid[-1], y0 * (grid[-1] / x0) ** (-p)), fontsize=8, color="0.4")
    ax.set(xlabel="NFE (denoiser evaluations)", ylabel=ylabel)
    ax.legend()
    return ax


# ---------------------------------------------------------------------------------------------
# Figures drawn without pyplot (added for the sampling lab, msdm_tutorial.widgets): safe to make in
# a background thread, never picked up by the notebook's inline backend, and rendered to PNG bytes
# for an ``ipywidgets.Image``.
# ---------------------------------------------------------------------------------------------

def _envelope(a: np.ndarray, bins: int = 1200) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-bin (min, max) of a long signal: what a waveform plot shows, at a fraction of the points."""
    if a.size <= 2 * bins:
        idx = np.arange(a.size)
        return idx, a, a
    edges = np.linspace(0, a.size, bins + 1).astype(int)
    lo = np.minimum.reduceat(a, edges[:-1])
    hi = np.maximum.reduceat(a, edges[:-1])
    return edges[:-1], lo, hi


def draw_stems(fig, stems: Mapping[str, object], sample_rate: int = 22050, mix=None, reference=None,
               n_fft: int = 1024, hop_length: int = 256, top_db: float = 80.0, amplitude: float | None = None,
               loudest_db: float | None = None, max_freq: float | None = None, title: str | None = None,
               labels: Mapping[str, str] | None = None):
    """Draw :func:`stems_figure`'s layout onto an existing matplotlib ``Figure`` (no pyplot), fast
    enough to redraw while a slider moves (waveforms as min/max envelopes, fixed margins, one colour bar).

    Spectrograms are in dB re full scale (a full-scale sine reads 0 dB), on one colour scale
    ``[loudest_db − top_db, loudest_db]``. Extras for comparing frames of a trajectory:
    ``reference`` (name → 1-D signal) is drawn in grey behind each waveform; ``amplitude`` fixes the
    waveform y-range (default: this figure's own maximum) and ``loudest_db`` the top of the colour
    scale in dBFS (default 0 dB, full scale; pass the loudest bin of a final frame to draw every
    frame on its scale); ``labels`` adds a note to a row's title (e.g. "kept"). Returns
    ``(fig, loudest_db)``.
    """
    rows = {name: _as_signal(a, f"stems[{name!r}]") for name, a in stems.items()}
    if mix is not None:
        rows["mix"] = _as_signal(mix, "mix")
    if not rows:
        raise ValueError("stems is empty: pass a dict name -> 1-D signal")
    refs = {name: _as_signal(a, f"reference[{name!r}]") for name, a in (reference or {}).items()}
    specs = {name: spectrogram_db(a, sample_rate, n_fft, hop_length, reference=1.0, top_db=1e9)
             for name, a in rows.items()}
    if loudest_db is None:
        loudest_db = 0.0
    amp = amplitude or max([float(np.abs(a).max()) for a in [*rows.values(), *refs.values()]]) or 1.0
    axes = fig.subplots(len(rows), 2, squeeze=False, sharex="col", gridspec_kw={"width_ratios": [1, 1.25]})
    fig.subplots_adjust(left=0.07, right=0.9, bottom=0.07 * 5 / (len(rows) + 1), top=1 - (0.62 if title else 0.3) / fig.get_figheight(),
                        wspace=0.18, hspace=0.45)
    im = None
    for (name, a), (ax_w, ax_s) in zip(rows.items(), axes):
        color = STEM_COLORS.get(name, "#333")
        if name in refs:
            i, lo, hi = _envelope(refs[name][:a.size])
            ax_w.fill_between(i / sample_rate, lo, hi, color="0.8", lw=0, step="mid", label="reference")
        i, lo, hi = _envelope(a)
        ax_w.fill_between(i / sample_rate, lo, hi, color=color, lw=0.4, edgecolor=color, step="mid")
        ax_w.set(ylim=(-1.05 * amp, 1.05 * amp), xlim=(0, a.size / sample_rate))
        note = f"  ({labels[name]})" if labels and labels.get(name) else ""
        ax_w.set_title(name + note, loc="left", color=color, fontsize=10, pad=2)
        db, times, freqs = specs[name]
        db = np.maximum(db, loudest_db - top_db)
        top = max_freq or sample_rate / 2
        im = ax_s.imshow(db, origin="lower", aspect="auto", vmin=loudest_db - top_db, vmax=loudest_db,
                         interpolation="nearest",
                         extent=(0, a.size / sample_rate, 0, freqs[-1] / 1000))
        ax_s.set(ylim=(0, top / 1000))
        ax_s.grid(False)
    axes[len(rows) // 2, 0].set_ylabel("amplitude")
    axes[len(rows) // 2, 1].set_ylabel("frequency (kHz)")
    axes[-1, 0].set_xlabel("time (s)")
    axes[-1, 1].set_xlabel("time (s)")
    cax = fig.add_axes((0.915, axes[-1, 1].get_position().y0, 0.012,
                        axes[0, 1].get_position().y1 - axes[-1, 1].get_position().y0))
    fig.colorbar(im, cax=cax, label=DB_LABEL)
    if title:
        fig.suptitle(title, fontsize=11, y=1 - 0.06 / fig.get_figheight(), va="top")
    return fig, loudest_db


def figure_png(fig, dpi: float = 72) -> bytes:
    """A figure rendered to PNG bytes with the Agg renderer (works for pyplot-free figures)."""
    import io

    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, pil_kwargs={"compress_level": 1})
    return buf.getvalue()


def stems_png(stems: Mapping[str, object], sample_rate: int = 22050, mix=None, width: float = 11.0,
              row_height: float = 1.5, dpi: float = 72, **kwargs) -> tuple[bytes, float]:
    """:func:`draw_stems` on a new pyplot-free Figure, as PNG bytes: returns ``(png, loudest_db)``."""
    from matplotlib.figure import Figure

    n = len(stems) + (mix is not None)
    fig = Figure(figsize=(width, row_height * n + 0.8))
    _, loudest = draw_stems(fig, stems, sample_rate, mix=mix, **kwargs)
    return figure_png(fig, dpi), loudest
