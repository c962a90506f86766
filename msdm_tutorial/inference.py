"""``msdm generate``, ``msdm impute``, ``msdm separate`` and ``msdm evaluate``: the MSDM tasks on audio files.

Each command loads a checkpoint (ours or the paper's, :func:`msdm_tutorial.checkpoints.load`), runs
one task of :mod:`msdm_tutorial.tasks` at the paper's settings (the config presets; ``--steps``,
``--sampler`` and ``--churn`` override them) and writes per-stem WAV files plus ``mix.wav``
(the sum of the written stems).

* Inputs are WAV/FLAC files of any length and sample rate: they are resampled to the model's rate,
  stereo is downmixed to mono (with a note on stderr), and long inputs are cut into chunks of the
  model's length (``--chunk-seconds``; default 32 × the U-Net's downsampling, i.e. the paper's
  262144 samples for the paper's models and 32768 for the tiny ones), processed ``--batch`` at a time.
* Long inputs are *seamless* by default (``--chunking seamless``): neighbouring chunks overlap by
  ``--overlap`` (a quarter chunk) and a chunk holds its overlap with finished chunks as known, as
  imputation holds known stems (:func:`msdm_tutorial.tasks.chunk_passes`); ``--chunking
  independent`` reproduces the paper's independent chunks. ``msdm generate --seconds S`` longer
  than a chunk *outpaints*: every chunk continues the previous one.
* ``--precision bf16|fp32``: the network under bfloat16 autocast or in float32; the default is bf16
  on CUDA and on CPUs with native bf16, fp32 elsewhere. ``--compile`` runs it through
  ``torch.compile`` (slow to start; for GPUs).
* ``--seed`` makes a run reproducible (same seed, device, batch and settings → the same files).
* Outputs appear atomically: everything is computed first, the files are written into a temporary
  folder next to OUT, and the folder is renamed to OUT (or, when OUT exists, the files are moved
  into it). An error leaves nothing behind: one line on stderr naming the input, exit status 2.
"""

from __future__ import annotations

import argparse
import math
import os
import shutil
import tempfile
import time
import warnings
from dataclasses import asdict
from pathlib import Path

import torch
from torch import Tensor

from . import SAMPLE_RATE, STEMS, cli

#: Default chunk length in units of the U-Net's total downsampling: 32 × 8192 = 262144 samples
#: (the paper's chunks) for the paper's models, 32 × 1024 = 32768 for the tiny preset.
CHUNK_MULTIPLE = 32


def _error(message: str):
    from .cli import CommandError

    return CommandError(message)


def note(command: str, message: str) -> None:
    """A one-line remark on stderr (e.g. a stereo input downmixed to mono)."""
    import sys

    print(f"msdm {command}: note: {message}", file=sys.stderr)


# ----------------------------------------------------------------------------------------------
# Models
# ----------------------------------------------------------------------------------------------

def pick_device(name: str | None) -> torch.device:
    if not name or name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise _error(f"--device {name}: not a device name (cpu, cuda, cuda:1, …)") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise _error(f"--device {name}: CUDA is not available on this machine")
    return device


def parse_stems(text: str | None, option: str = "--stems") -> tuple[str, ...] | None:
    if text is None:
        return None
    stems = tuple(s.strip() for s in text.split(",") if s.strip())
    if not stems:
        raise _error(f"{option}: name at least one stem")
    if len(set(stems)) != len(stems):
        raise _error(f"{option} {text}: a stem is named twice")
    return stems


def _load(path, device="cpu"):
    from .checkpoints import load

    p = Path(path)
    if not p.exists():
        raise _error(f"{path}: no such checkpoint file")
    if p.is_dir():
        raise _error(f"{path}: is a folder, not a checkpoint file")
    return load(p, device=device)


def load_model(path, device="cpu", stems: tuple[str, ...] | None = None):
    """A checkpoint's denoiser on ``device``; ``stems`` insists on the model's stems (in order)."""
    denoiser = _load(path, device)
    own = tuple(denoiser.stems) if denoiser.stems is not None else None
    if own is None:
        channels = denoiser.net.config.in_channels
        if channels == len(STEMS):
            own = tuple(STEMS)
        elif stems is not None and len(stems) == channels:
            own = stems
        else:
            raise _error(f"{path}: the checkpoint does not name its {channels} stem(s); "
                         f"convert it with 'msdm convert-checkpoint --stems …'")
        denoiser.stems = own
    if stems is not None and own != stems:
        raise _error(f"{path}: the checkpoint's stems are {', '.join(own)}, not the requested {', '.join(stems)}")
    return denoiser


def parse_isdm(spec: str) -> list[tuple[str, str]]:
    """``bass=C1,drums=C2`` → [("bass", "C1"), ("drums", "C2")]."""
    pairs = []
    for item in spec.split(","):
        if not item.strip():
            continue
        stem, sep, path = item.partition("=")
        if not sep or not stem.strip() or not path.strip():
            raise _error(f"--isdm: expected STEM=CHECKPOINT[,STEM=CHECKPOINT…], got {item.strip()!r}")
        pairs.append((stem.strip(), path.strip()))
    if not pairs:
        raise _error("--isdm: name at least one STEM=CHECKPOINT")
    names = [s for s, _ in pairs]
    dup = sorted({s for s in names if names.count(s) > 1})
    if dup:
        raise _error(f"--isdm: stem {dup[0]!r} is given more than one checkpoint")
    return pairs


def load_isdm(spec: str, device="cpu", stems: tuple[str, ...] | None = None):
    """K single-stem checkpoints as one :class:`~msdm_tutorial.tasks.ISDMDenoiser`.

    Each checkpoint must hold exactly the stem it is assigned to (or be unnamed with one channel).
    """
    from .tasks import ISDMDenoiser

    pairs = parse_isdm(spec)
    if stems is not None and tuple(s for s, _ in pairs) != stems:
        raise _error(f"--isdm names the stems {', '.join(s for s, _ in pairs)}, not the requested {', '.join(stems)}")
    models = {}
    for stem, path in pairs:
        d = _load(path, device)
        own = tuple(d.stems) if d.stems is not None else None
        if own is None and d.net.config.in_channels == 1:
            d.stems = own = (stem,)
        if own != (stem,):
            what = ", ".join(own) if own else f"{d.net.config.in_channels} unnamed stems"
            raise _error(f"{path}: --isdm assigns it to {stem!r}, but it is a checkpoint of {what} "
                         f"(ISDM needs one single-stem model per stem)")
        models[stem] = d
    try:
        return ISDMDenoiser(models).to(device)
    except ValueError as err:
        raise _error(f"--isdm: {err}") from None


def model_stems(denoiser) -> tuple[str, ...]:
    return tuple(denoiser.stems) if getattr(denoiser, "stems", None) is not None else tuple(STEMS)


def model_rate(denoiser) -> int:
    return int(getattr(denoiser, "sample_rate", None) or SAMPLE_RATE)


def generation_length(samples: int, multiple: int, chunk: int) -> int:
    """Samples to generate for a request of ``samples``: one chunk is rounded up to the U-Net's valid
    length (and cropped after); a longer request is outpainted chunk by chunk at its own length."""
    return math.ceil(samples / multiple) * multiple if samples <= chunk else samples


def length_multiple(denoiser) -> int:
    """The U-Net's valid-length multiple (its total downsampling; the lcm over ISDM's models)."""
    from .tasks import ISDMDenoiser

    if isinstance(denoiser, ISDMDenoiser):
        return math.lcm(*(length_multiple(d) for d in denoiser._list()))
    return int(getattr(getattr(denoiser, "net", None), "downsampling", 1) or 1)


def chunk_length(denoiser, seconds: float | None = None, option: str = "--chunk-seconds") -> int:
    """Samples per chunk: ``seconds`` rounded up to a valid length, else 32 × the downsampling."""
    m = length_multiple(denoiser)
    if seconds is None:
        from .tasks import PAPER_CHUNK_LENGTH

        return CHUNK_MULTIPLE * m if m > 1 else PAPER_CHUNK_LENGTH
    if not seconds > 0:
        raise _error(f"{option} {seconds}: must be > 0")
    n = max(1, round(seconds * model_rate(denoiser)))
    return math.ceil(n / m) * m


# ----------------------------------------------------------------------------------------------
# Settings
# ----------------------------------------------------------------------------------------------

def build_config(base, steps: int | None = None, sampler: str | None = None, churn: float | None = None):
    """The paper preset ``base`` with the command line's overrides."""
    if steps is not None and steps < 1:
        raise _error(f"--steps {steps}: must be >= 1")
    if churn is not None and churn < 0:
        raise _error(f"--churn {churn}: must be >= 0")
    cfg = base
    if sampler == "heun":
        cfg = cfg.with_heun(steps or cfg.num_steps)
    elif steps is not None:
        cfg = cfg.replace(num_steps=steps)
    if churn is not None:
        cfg = cfg.replace(s_churn=churn)
    return cfg


def separation_config(method: str, isdm: bool, steps=None, sampler=None, churn=None):
    from .tasks import SeparationConfig

    base = {("dirac", False): SeparationConfig.paper_dirac, ("gaussian", False): SeparationConfig.paper_gaussian,
            ("dirac", True): SeparationConfig.paper_isdm_dirac,
            ("gaussian", True): SeparationConfig.paper_isdm_gaussian}[(method, isdm)]()
    return build_config(base, steps, sampler, churn)


def with_constrained(cfg, stem: str | None, stems: tuple[str, ...]):
    """``cfg`` with the Dirac method's constrained stem set to ``stem`` (a name), if given."""
    if stem is None:
        return cfg
    if cfg.method != "dirac":
        raise _error(f"--constrain {stem}: only the dirac method constrains a stem")
    if stem not in stems:
        raise _error(f"--constrain {stem}: unknown stem; the model's stems are {', '.join(stems)}")
    return cfg.replace(source_id=stems.index(stem))


def config_dict(cfg) -> dict:
    d = asdict(cfg)
    d["nfe"] = cfg.nfe
    return d


def describe(cfg) -> str:
    r = f" × R {cfg.num_resamples}" if cfg.sampler == "euler" and cfg.num_resamples > 1 else ""
    return f"{cfg.sampler} {cfg.num_steps} steps{r}, S_churn {cfg.s_churn:g} ({cfg.nfe} NFE)"


def precision_of(args, device) -> str:
    """The precision a run uses: ``--precision``, else bf16 where it is native (CUDA, bf16 CPUs)."""
    from .tasks import resolve_precision

    return resolve_precision(getattr(args, "precision", None) or "auto", device)


def compile_model(model):
    """``--compile``: wrap the network(s) of ``model`` in ``torch.compile`` (each new shape compiles once)."""
    from .tasks import ISDMDenoiser

    for d in (model._list() if isinstance(model, ISDMDenoiser) else [model]):
        if isinstance(getattr(d, "net", None), torch.nn.Module):
            d.net = torch.compile(d.net)
    return model


def overlap_of(args, chunk: int) -> int:
    """``--overlap`` (a fraction of the chunk) in samples."""
    from .tasks import DEFAULT_OVERLAP

    fraction = DEFAULT_OVERLAP if getattr(args, "overlap", None) is None else args.overlap
    return int(round(fraction * chunk))


def long_form(args, chunk: int) -> dict:
    """What JSON results record about chunking and precision."""
    from .tasks import SEAMLESS

    chunking = getattr(args, "chunking", "sequential")
    return {"chunking": chunking, "design": SEAMLESS if chunking == "seamless" else chunking,
            "overlap": overlap_of(args, chunk)}


# ----------------------------------------------------------------------------------------------
# Audio in, audio out
# ----------------------------------------------------------------------------------------------

def read_audio(path, sample_rate: int, command: str) -> Tensor:
    """A mono (T,) float32 tensor at ``sample_rate``; notes on stderr for resampling / downmixing."""
    from .data.audio import audio_info, load_audio

    path = Path(path)
    if not path.exists():
        raise _error(f"{path}: no such file")
    if path.is_dir():
        raise _error(f"{path}: is a folder, not an audio file")
    info = audio_info(path)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        audio, _ = load_audio(path, sample_rate=sample_rate, mono=True)
    for w in caught:
        if "downmixed" in str(w.message):
            note(command, str(w.message))
    if info.samplerate != sample_rate:
        note(command, f"{path}: resampled from {info.samplerate} Hz to the model's {sample_rate} Hz")
    audio = audio[0]
    if audio.numel() == 0:
        raise _error(f"{path}: the audio file is empty (0 samples)")
    return audio


def check_mixture(y: Tensor, path) -> None:
    from .tasks import SILENT_PEAK

    peak = float(y.abs().max())
    if peak < SILENT_PEAK:
        raise _error(f"{path}: the mixture is silent (peak {peak:.3g} below {SILENT_PEAK:g}); there is nothing to separate")


def crop_seconds(x: Tensor, seconds: float | None, sample_rate: int, option: str = "--seconds") -> Tensor:
    if seconds is None:
        return x
    if not seconds > 0:
        raise _error(f"{option} {seconds}: must be > 0")
    return x[..., :max(1, round(seconds * sample_rate))]


def check_out(out) -> Path:
    """OUT may be a new or an existing folder, not a file (checked before any work is done)."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise _error(f"{out}: exists and is not a folder")
    return out


def check_result_file(path, option: str = "--json") -> None:
    """A results file must go into an existing folder and must not be a folder (checked up front,
    so that a long run does not end in an error after its audio was written)."""
    if not path:
        return
    p = Path(path)
    if p.is_dir():
        raise _error(f"{option} {path}: is a folder")
    if not p.absolute().parent.is_dir():
        raise _error(f"{option} {path}: the folder {p.absolute().parent} does not exist")


def stem_files(stems, audio: Tensor, prefix: str = "") -> dict[str, Tensor]:
    """{"bass.wav": (1, T), …, "mix.wav": Σ stems} for one (K, T) item."""
    files = {f"{prefix}{s}.wav": audio[k:k + 1] for k, s in enumerate(stems)}
    files[f"{prefix}mix.wav"] = audio.sum(0, keepdim=True)
    return files


def publish(out, files: dict[str, Tensor], sample_rate: int) -> list[Path]:
    """Write ``files`` (relative name → (C, T) audio) under OUT, all or nothing.

    The files go into a temporary folder next to OUT; a new OUT is that folder renamed (atomic),
    an existing OUT receives the files by ``os.replace`` (other files in it are left alone).
    """
    from .data.audio import save_audio

    out = check_out(out)
    parent = out.absolute().parent
    new_ancestor = next((a for a in reversed([parent, *parent.parents]) if not a.exists()), None)
    parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=parent))
    done = False
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o777 & ~umask)
        for rel, audio in files.items():
            save_audio(tmp / rel, audio.detach().float().cpu(), sample_rate)
        if not out.exists():
            os.rename(tmp, out)
        else:
            for rel in files:
                (out / rel).parent.mkdir(parents=True, exist_ok=True)
                os.replace(tmp / rel, out / rel)
        done = True
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
        if not done and new_ancestor is not None:  # folders made for OUT go too
            shutil.rmtree(new_ancestor, ignore_errors=True)
    return [out / rel for rel in files]


class Progress:
    """A tqdm bar counting sampler steps (``callback`` of the tasks); off with ``quiet`` or off a terminal."""

    def __init__(self, total: int, desc: str, quiet: bool = False):
        from tqdm.auto import tqdm

        self.bar = tqdm(total=total, desc=desc, unit="step", dynamic_ncols=True, leave=False,
                        disable=True if quiet else None)

    def __call__(self, step=None) -> None:
        self.bar.update(1)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.bar.close()


def _generator(device, seed: int) -> torch.Generator:
    return torch.Generator(device=device).manual_seed(int(seed))


def _sync(device) -> None:
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize(device)


def _model_label(args) -> dict:
    if getattr(args, "isdm", None):
        return {"isdm": dict(parse_isdm(args.isdm))}
    return {"checkpoint": str(args.checkpoint)}


def _load_for(args, device, stems=None):
    """The denoiser of ``--checkpoint`` or ``--isdm`` (exactly one of them)."""
    isdm = getattr(args, "isdm", None)
    if bool(isdm) == bool(args.checkpoint):
        raise _error("give either --checkpoint (an MSDM model) or --isdm STEM=CHECKPOINT,… (single-stem models)")
    model = load_isdm(isdm, device, stems) if isdm else load_model(args.checkpoint, device, stems)
    if len(model_stems(model)) < 2:
        what = f"--isdm {isdm}" if isdm else str(args.checkpoint)
        raise _error(f"{what}: a model of the single stem {model_stems(model)[0]!r} has nothing to separate "
                     f"(combine one single-stem checkpoint per stem with --isdm)")
    return model


# ----------------------------------------------------------------------------------------------
# msdm generate
# ----------------------------------------------------------------------------------------------

def run_generate(args) -> int:
    from .cli import write_json
    from .tasks import GenerationConfig, chunk_runs, generate

    out = check_out(args.out)
    check_result_file(args.json)
    cfg = build_config(GenerationConfig.paper(), args.steps, args.sampler, args.churn)
    device = pick_device(args.device)
    model = load_model(args.checkpoint, device, parse_stems(args.stems))
    stems, sr, m = model_stems(model), model_rate(model), length_multiple(model)
    chunk = chunk_length(model, args.chunk_seconds)
    overlap = overlap_of(args, chunk)
    precision = precision_of(args, device)
    seconds = args.seconds if args.seconds is not None else chunk / sr
    n = max(1, round(seconds * sr))
    length = generation_length(n, m, chunk)
    runs = chunk_runs(length, chunk, overlap, "sequential", args.batch, args.batch) if n > chunk else 1
    if args.compile:
        compile_model(model)
    t0 = time.perf_counter()
    with Progress(runs * cfg.num_steps, "generate", args.quiet) as bar:
        x = generate(model, (args.batch, len(stems), length), config=cfg, generator=_generator(device, args.seed),
                     callback=bar, device=device, precision=precision, chunk_length=chunk, overlap=overlap)
    _sync(device)
    elapsed = time.perf_counter() - t0
    x = x[..., :n].float().cpu()
    files = {}
    for b in range(args.batch):
        files.update(stem_files(stems, x[b], "" if args.batch == 1 else f"sample_{b:03d}/"))
    written = publish(out, files, sr)
    how = f"outpainted in {runs} chunks of {chunk} samples; " if n > chunk else ""
    print(f"wrote {len(written)} files to {out} ({args.batch} × {n / sr:.2f} s at {sr} Hz; {how}"
          f"{describe(cfg)}; {precision}; {elapsed:.1f} s)")
    write_json(args.json, {"command": "generate", **_model_label(args), "out": str(out),
                           "files": [str(p) for p in written], "stems": list(stems), "sample_rate": sr,
                           "samples": n, "seconds": n / sr, "batch": args.batch, "seed": args.seed,
                           "chunk_length": chunk, "chunks": runs, "overlap": overlap, "precision": precision,
                           "compile": args.compile, "device": str(device), "config": config_dict(cfg),
                           "elapsed_s": elapsed})
    return 0


# ----------------------------------------------------------------------------------------------
# msdm impute
# ----------------------------------------------------------------------------------------------

def read_track_stems(track, stems, keep, sample_rate, command) -> Tensor:
    """(K, T): the kept stems read from the track folder (resampled), zeros elsewhere."""
    from .data.datasets import LENGTH_TOLERANCE_S, stem_path

    track = Path(track)
    if not track.is_dir():
        raise _error(f"{track}: no such track folder")
    found = {s: stem_path(track, s) for s in keep}
    if not any(found.values()):
        raise _error(f"{track}: none of the kept stems has a file ({', '.join(s + '.wav/.flac' for s in keep)})")
    audios = {}
    for s, p in found.items():
        if p is None:
            note(command, f"{track}: no {s} file; keeping {s} as silence")
        else:
            audios[s] = read_audio(p, sample_rate, command)
    lengths = [a.numel() for a in audios.values()]
    if max(lengths) - min(lengths) > LENGTH_TOLERANCE_S * sample_rate:
        raise _error(f"{track}: stem lengths differ by {(max(lengths) - min(lengths)) / sample_rate:.2f} s "
                     f"(more than {LENGTH_TOLERANCE_S} s)")
    n = min(lengths)
    return torch.stack([audios[s][:n] if s in audios else torch.zeros(n) for s in stems])


def run_impute(args) -> int:
    from .cli import write_json
    from .tasks import ImputationConfig, chunk_runs, impute_long

    out = check_out(args.out)
    check_result_file(args.json)
    cfg = build_config(ImputationConfig.paper(), args.steps, args.sampler, args.churn)
    keep = parse_stems(args.keep, "--keep")
    device = pick_device(args.device)
    model = load_model(args.checkpoint, device, parse_stems(args.stems))
    stems, sr = model_stems(model), model_rate(model)
    unknown = [s for s in keep if s not in stems]
    if unknown:
        raise _error(f"--keep: unknown stem(s) {', '.join(map(repr, unknown))}; the checkpoint "
                     f"{args.checkpoint} has the stems {', '.join(stems)}")
    if set(keep) == set(stems):
        raise _error(f"--keep {args.keep}: names every stem of the checkpoint; there is nothing to impute")
    chunk = chunk_length(model, args.chunk_seconds)
    overlap, precision = overlap_of(args, chunk), precision_of(args, device)
    known = crop_seconds(read_track_stems(args.track, stems, keep, sr, "impute"), args.seconds, sr)
    n = known.shape[-1]
    runs = chunk_runs(n, chunk, overlap, args.chunking, 1, args.batch)
    gen = _generator(device, args.seed)
    if args.compile:
        compile_model(model)
    t0 = time.perf_counter()
    with Progress(runs * cfg.num_steps, "impute", args.quiet) as bar:
        x = impute_long(model, known[None].to(device), keep, cfg, chunk_length=chunk, batch_size=args.batch,
                        generator=gen, callback=bar, chunking=args.chunking, overlap=overlap, precision=precision)
    _sync(device)
    elapsed = time.perf_counter() - t0
    x = x.float()
    written = publish(out, stem_files(stems, x[0].cpu()), sr)
    generated = [s for s in stems if s not in keep]
    print(f"wrote {len(written)} files to {out} (kept {', '.join(keep)}; generated {', '.join(generated)}; "
          f"{n / sr:.2f} s at {sr} Hz; {describe(cfg)}; {args.chunking} chunks; {precision}; {elapsed:.1f} s)")
    write_json(args.json, {"command": "impute", **_model_label(args), "track": str(args.track), "keep": list(keep),
                           "generated": generated, "out": str(out), "files": [str(p) for p in written],
                           "stems": list(stems), "sample_rate": sr, "samples": n, "seconds": n / sr,
                           "chunk_length": chunk, **long_form(args, chunk), "precision": precision,
                           "compile": args.compile, "batch": args.batch, "seed": args.seed, "device": str(device),
                           "config": config_dict(cfg), "elapsed_s": elapsed})
    return 0


# ----------------------------------------------------------------------------------------------
# msdm separate
# ----------------------------------------------------------------------------------------------

def separate_audio(model, y: Tensor, cfg, chunk: int, batch: int, seed: int, device, quiet: bool = True,
                   desc: str = "separate", chunking: str = "seamless", overlap: int | None = None,
                   precision: str = "auto") -> Tensor:
    """(T,) mixture → (K, T) stems with :func:`~msdm_tutorial.tasks.separate_long` and a progress bar."""
    from .tasks import chunk_runs, default_overlap, separate_long

    overlap = default_overlap(chunk) if overlap is None else overlap
    runs = chunk_runs(y.shape[-1], chunk, overlap, chunking, 1, batch)
    with Progress(runs * cfg.num_steps, desc, quiet) as bar:
        x = separate_long(model, y.to(device)[None, None], cfg, chunk_length=chunk, batch_size=batch,
                          generator=_generator(device, seed), callback=bar, chunking=chunking, overlap=overlap,
                          precision=precision)
    _sync(device)
    return x[0].float().cpu()


def run_separate(args) -> int:
    from .cli import write_json

    out = check_out(args.out)
    check_result_file(args.json)
    cfg = separation_config(args.method, bool(args.isdm), args.steps, args.sampler, args.churn)
    device = pick_device(args.device)
    model = _load_for(args, device, parse_stems(args.stems))
    stems, sr = model_stems(model), model_rate(model)
    cfg = with_constrained(cfg, args.constrain, stems)
    chunk = chunk_length(model, args.chunk_seconds)
    precision = precision_of(args, device)
    y = read_audio(args.mixture, sr, "separate")
    check_mixture(y, args.mixture)
    if args.compile:
        compile_model(model)
    t0 = time.perf_counter()
    x = separate_audio(model, y, cfg, chunk, args.batch, args.seed, device, args.quiet, chunking=args.chunking,
                       overlap=overlap_of(args, chunk), precision=precision)
    elapsed = time.perf_counter() - t0
    written = publish(out, stem_files(stems, x), sr)
    n = y.numel()
    kind = "ISDM" if args.isdm else "MSDM"
    print(f"wrote {len(written)} files to {out} ({kind} {args.method}; {n / sr:.2f} s at {sr} Hz; "
          f"{describe(cfg)}; {args.chunking} chunks; {precision}; {elapsed:.1f} s, "
          f"{elapsed / (n / sr):.2f} s per s of audio)")
    write_json(args.json, {"command": "separate", **_model_label(args), "model": kind, "method": args.method,
                           "input": str(args.mixture), "out": str(out), "files": [str(p) for p in written],
                           "stems": list(stems), "sample_rate": sr, "samples": n, "seconds": n / sr,
                           "chunk_length": chunk, **long_form(args, chunk), "precision": precision,
                           "compile": args.compile, "batch": args.batch, "seed": args.seed, "device": str(device),
                           "config": config_dict(cfg), "elapsed_s": elapsed,
                           "seconds_per_audio_second": elapsed / (n / sr)})
    return 0


# ----------------------------------------------------------------------------------------------
# msdm evaluate
# ----------------------------------------------------------------------------------------------

def run_evaluate(args) -> int:
    from . import metrics
    from .data.audio import audio_info
    from .data.datasets import list_tracks, load_track, stem_path

    if args.csv and Path(args.csv).exists() and not Path(args.csv).is_dir():
        raise _error(f"--csv {args.csv}: exists and is not a folder")
    check_result_file(args.json)
    cfg = separation_config(args.method, bool(args.isdm), args.steps, args.sampler, args.churn)
    device = pick_device(args.device)
    data = Path(args.data)
    if not data.is_dir():
        raise _error(f"{data}: no such data folder")
    model = _load_for(args, device, parse_stems(args.stems))
    stems, sr = model_stems(model), model_rate(model)
    cfg = with_constrained(cfg, args.constrain, stems)
    chunk = chunk_length(model, args.chunk_seconds)
    precision = precision_of(args, device)
    tracks = list_tracks(data, args.split, stems)
    if not tracks:
        raise _error(f"{data / args.split}: no tracks with any of the model's stems ({', '.join(stems)})")
    tracks = tracks[:args.limit] if args.limit else tracks
    for s in stems:
        if not any(stem_path(t, s) for t in tracks):
            raise _error(f"{data / args.split}: no track has a {s} file, but the model separates "
                         f"{', '.join(stems)}; is this the right data for this checkpoint?")
    for t in tracks:  # headers first: a broken file fails the run before hours of sampling
        for s in stems:
            p = stem_path(t, s)
            if p is not None:
                audio_info(p)
    triples, skipped, audio_seconds = [], [], 0.0
    if args.compile:
        compile_model(model)
    t0 = time.perf_counter()
    for i, t in enumerate(tracks):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            ref = load_track(t, stems, sample_rate=sr, resample=True)
        for w in caught:
            if "downmixed" in str(w.message):
                note("evaluate", str(w.message))
        ref = crop_seconds(ref, args.seconds, sr)
        if args.drop_partial_chunk:
            ref = ref[:, :ref.shape[-1] // chunk * chunk]
            if ref.shape[-1] == 0:
                skipped.append(t.name)
                note("evaluate", f"{t}: shorter than one chunk ({chunk} samples); skipped")
                continue
        mix = ref.sum(0)
        if float(mix.abs().max()) < 1e-6:
            skipped.append(t.name)
            note("evaluate", f"{t}: the mixture is silent; skipped")
            continue
        sep = separate_audio(model, mix, cfg, chunk, args.batch, args.seed + i, device, args.quiet,
                             desc=f"{t.name} ({i + 1}/{len(tracks)})", chunking=args.chunking,
                             overlap=overlap_of(args, chunk), precision=precision)
        triples.append((t.name, sep, ref))
        audio_seconds += ref.shape[-1] / sr
    elapsed = time.perf_counter() - t0
    if not triples:
        raise _error(f"{data / args.split}: every track was skipped (silent or shorter than a chunk)")
    results = metrics.evaluate(triples, sr, stems)
    kind = "ISDM" if args.isdm else "MSDM"
    results["run"] = {"command": "evaluate", **_model_label(args), "model": kind, "method": args.method,
                      "data": str(data), "split": args.split, "tracks": [n for n, _, _ in triples],
                      "skipped": skipped, "seconds": args.seconds, "drop_partial_chunk": args.drop_partial_chunk,
                      "chunk_length": chunk, **long_form(args, chunk), "precision": precision,
                      "compile": args.compile, "batch": args.batch, "seed": args.seed, "device": str(device),
                      "config": config_dict(cfg), "elapsed_s": elapsed, "audio_seconds": audio_seconds,
                      "seconds_per_audio_second": elapsed / audio_seconds}
    summary = results["summary"]
    print(f"SI-SDRi (dB), {kind} {args.method}, {describe(cfg)}, {args.chunking} chunks, {precision}: "
          f"{summary['num_tracks']} track(s), "
          f"{summary['num_windows']} window(s), {elapsed:.1f} s")
    for s, v in summary["si_sdri"].items():
        print(f"  {s:<10} {v:7.2f}")
    print(f"  {'average':<10} {summary['average']:7.2f}")
    if args.csv:
        csv_dir = Path(args.csv)
        csv_dir.mkdir(parents=True, exist_ok=True)
        metrics.write_csv(csv_dir / "windows.csv", csv_dir / "summary.csv", results)
        print(f"wrote {csv_dir / 'windows.csv'} and {csv_dir / 'summary.csv'}")
    if args.json:
        metrics.write_json(args.json, results)
    return 0


# ----------------------------------------------------------------------------------------------
# Parsers
# ----------------------------------------------------------------------------------------------

def _sampling_options(p, what: str, default: str) -> None:
    g = p.add_argument_group("sampling (defaults: the paper's settings)")
    g.add_argument("--steps", type=cli.COUNT, help=f"σ steps (paper: {default})")
    g.add_argument("--sampler", choices=("euler", "heun"), default="euler",
                   help="euler: the paper's sampler (with its R correction resamples for separation); "
                        "heun: EDM's second-order sampler, 2N−1 NFE (default euler)")
    g.add_argument("--churn", type=cli.real(0), help="S_churn, the stochasticity (paper preset by default)")
    g.add_argument("--seed", type=cli.SEED, default=0, help="random seed; the same seed gives the same files (default 0)")
    g.add_argument("--batch", type=cli.COUNT, default=8 if what != "generate" else 1,
                   help="chunks per batch (default 8)" if what != "generate" else "songs to generate (default 1)")


def _common(p, json_help: str = "also write a summary as JSON") -> None:
    p.add_argument("--stems", help="comma-separated stems the checkpoint must have, in order (an error otherwise)")
    p.add_argument("--device", default="auto", help="cpu, cuda, cuda:1 … (default: cuda when available)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--json", metavar="FILE", help=json_help)


def _chunk_option(p, chunking: bool = True) -> None:
    p.add_argument("--chunk-seconds", type=cli.SECONDS, metavar="S",
                   help="process the input in chunks of S seconds (rounded up to a valid length; default "
                        "32 × the U-Net's downsampling: 262144 samples for the paper's models, 32768 for tiny)")
    if chunking:
        p.add_argument("--chunking", choices=("seamless", "independent", "sequential", "bridge", "crossfade"),
                       default="seamless",
                       help="seamless (default, = bridge): overlapping chunks in two batches, the second holding its "
                            "overlaps with the first as known; independent: the paper's chunks, each alone (stems may "
                            "jump at joins); sequential: one chunk after another, each holding its overlap with the "
                            "previous one (best quality, no batching within a song); crossfade: overlapping chunks "
                            "each alone, crossfaded")
    p.add_argument("--overlap", type=cli.real(0, 0.5, high_open=True), metavar="F",
                   help="overlap of neighbouring chunks, as a fraction of a chunk (default 0.25)")


def _precision_options(p) -> None:
    p.add_argument("--precision", choices=("bf16", "fp32"),
                   help="bf16: the network under bfloat16 autocast; fp32: float32 (default: bf16 on CUDA and on "
                        "CPUs with native bf16, fp32 elsewhere)")
    p.add_argument("--compile", action="store_true",
                   help="run the network through torch.compile (minutes to compile; pays off on GPUs, long runs)")


def register(sub) -> None:
    fmt = argparse.RawDescriptionHelpFormatter

    p = sub.add_parser(
        "generate", help="generate songs: all stems jointly, plus their mix", formatter_class=fmt,
        description="Total generation: sample all stems of a song jointly from the model's prior.\n"
                    "Writes OUT/{stem}.wav for every stem and OUT/mix.wav (their sum); with --batch N > 1,\n"
                    "OUT/sample_000/, OUT/sample_001/, …  Paper settings: Euler, 150 steps, σ_max 20, S_churn 20.",
        epilog="example: msdm generate --checkpoint data_small/checkpoints/msdm-tiny.pt --out song --seconds 3")
    p.add_argument("--checkpoint", required=True, help="MSDM checkpoint (ours or the paper's .ckpt)")
    p.add_argument("--out", required=True, help="output folder (created; existing files of the same name are replaced)")
    p.add_argument("--seconds", type=cli.SECONDS, help="length in seconds (default: the model's chunk length, "
                                                  "≈ 11.9 s for the paper's models, ≈ 1.5 s for tiny); longer songs "
                                                  "are outpainted, each chunk continuing the previous one")
    _chunk_option(p, chunking=False)
    _sampling_options(p, "generate", "150 Euler steps")
    _precision_options(p)
    _common(p)
    p.set_defaults(func=run_generate)

    p = sub.add_parser(
        "impute", help="partial generation: keep some stems of a track, generate the others", formatter_class=fmt,
        description="Source imputation: read the stems named by --keep from a track folder\n"
                    "(TRACK/{stem}.wav or .flac, any sample rate) and generate the model's other stems to fit them.\n"
                    "Writes OUT/{stem}.wav for every stem (the kept ones as read) and OUT/mix.wav.\n"
                    "Paper settings: Euler, 256 steps, σ_max 20, S_churn 10.",
        epilog="example: msdm impute --checkpoint msdm-tiny.pt --track data_small/toy/test/Track00029 "
               "--keep drums,bass --out filled")
    p.add_argument("--checkpoint", required=True, help="MSDM checkpoint")
    p.add_argument("--track", required=True, metavar="DIR", help="track folder with {stem}.wav/.flac files")
    p.add_argument("--keep", required=True, metavar="STEM[,STEM…]", help="the stems to keep (the rest is generated)")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--seconds", type=cli.SECONDS, help="use only the first S seconds of the track")
    _chunk_option(p)
    _sampling_options(p, "impute", "256 Euler steps")
    _precision_options(p)
    _common(p)
    p.set_defaults(func=run_impute)

    p = sub.add_parser(
        "separate", help="separate a mixture into stems (MSDM Dirac/Gaussian, or ISDM)", formatter_class=fmt,
        description="Separate a WAV/FLAC mixture of any length and sample rate into the model's stems.\n"
                    "Writes OUT/{stem}.wav and OUT/mix.wav (the sum of the estimated stems, at the model's rate).\n"
                    "Paper settings (Table 1): Euler, 150 steps × R 2 corrections (300 NFE), σ ∈ [1e-4, 1],\n"
                    "S_churn 20 (MSDM Dirac) or 40 (MSDM Gaussian, ISDM), γ = 0.75σ, chunks of 262144 samples.",
        epilog="examples:\n  msdm separate --checkpoint msdm-tiny.pt song.wav --out stems\n"
               "  msdm separate --isdm bass=b.pt,drums=d.pt,guitar=g.pt,piano=p.pt song.flac --out stems")
    p.add_argument("mixture", metavar="MIX.wav", help="the mixture (WAV or FLAC; stereo is downmixed)")
    p.add_argument("--checkpoint", help="MSDM checkpoint (one model for all stems)")
    p.add_argument("--isdm", metavar="STEM=C,…", help="ISDM instead: one single-stem checkpoint per stem")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--method", choices=("dirac", "gaussian"), default="dirac", help="likelihood (default dirac)")
    p.add_argument("--constrain", metavar="STEM",
                   help="Dirac: the stem set to y − Σ others (default: the first, as the paper's code does)")
    _chunk_option(p)
    _sampling_options(p, "separate", "150 Euler steps × R 2")
    _precision_options(p)
    _common(p)
    p.set_defaults(func=run_separate)

    p = sub.add_parser(
        "evaluate", help="SI-SDRi of separation on a test set (the paper's protocol)", formatter_class=fmt,
        description="Separate every track of DATA/SPLIT (MSDM layout) from the sum of its stems and score it\n"
                    "with the paper's protocol: chunks of the model's length, 4 s windows with a 2 s hop, windows\n"
                    "with at most one active stem skipped, SI-SDRi per stem averaged over windows, and their mean.\n"
                    "The last partial chunk is zero-padded (--drop-partial-chunk drops it, as the authors' code does).",
        epilog="example: msdm evaluate --checkpoint msdm-tiny.pt --data data_small/toy --json results.json --csv results")
    p.add_argument("--checkpoint", help="MSDM checkpoint")
    p.add_argument("--isdm", metavar="STEM=C,…", help="ISDM instead: one single-stem checkpoint per stem")
    p.add_argument("--data", required=True, metavar="DIR", help="data root in MSDM layout (DIR/SPLIT/TrackNNNNN/)")
    p.add_argument("--split", default="test", help="split folder (default test)")
    p.add_argument("--method", choices=("dirac", "gaussian"), default="dirac", help="likelihood (default dirac)")
    p.add_argument("--constrain", metavar="STEM",
                   help="Dirac: the stem set to y − Σ others (default: the first, as the paper's code does)")
    p.add_argument("--limit", type=cli.COUNT, metavar="N", help="only the first N tracks")
    p.add_argument("--seconds", type=cli.SECONDS, help="only the first S seconds of each track")
    p.add_argument("--drop-partial-chunk", action="store_true",
                   help="drop each track's incomplete last chunk (the authors' evaluation)")
    p.add_argument("--csv", metavar="DIR", help="write DIR/windows.csv (per window) and DIR/summary.csv")
    _chunk_option(p)
    _sampling_options(p, "evaluate", "150 Euler steps × R 2")
    _precision_options(p)
    _common(p, "write the results as JSON: protocol, summary (per-stem and mean SI-SDRi), windows, run")
    p.set_defaults(func=run_evaluate)
