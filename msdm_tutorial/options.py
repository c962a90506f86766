"""The options of ``msdm generate / impute / separate / evaluate`` as plain data, one home for each.

The command line builds its argparse parsers from :data:`COMMAND_OPTIONS` (``msdm_tutorial.cli``),
and the sampling lab shows the command that equals its controls with :func:`command_line`, which
renders from the same definitions — so a flag, a choice or a default is written down once.

:data:`RECOMMENDED_SEPARATION` is the course's recommended separation setting and the default of
``msdm separate`` / ``msdm evaluate``: MSDM Dirac, the paper's sampler (Euler with R = 2 correction
resamples, σ_max 1, ρ 7) on 12 steps instead of 150 (24 NFE), its σ grid ending at σ_min 3e-3 instead of
1e-4, seamless chunks overlapping by an eighth of a chunk. The paper's Table 1 setting is ``--steps 150
--sigma-min 1e-4`` (300 NFE).
"""

from __future__ import annotations

from dataclasses import dataclass

from .configs import ImputationConfig

#: Chunking designs of long inputs (:func:`msdm_tutorial.tasks.chunk_passes`); seamless = bridge.
CHUNKINGS = ("seamless", "independent", "sequential", "bridge", "crossfade")
DEFAULT_CHUNKING = "seamless"
#: Chunks processed at once by impute, separate and evaluate.
CHUNK_BATCH = 8


@dataclass(frozen=True)
class Range:
    """An int or a finite float within bounds: ``low <= x`` (``low < x`` when ``low_open``), likewise high."""

    kind: type = int
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False

    @property
    def rule(self) -> str:
        bounds = [f"{'>' if self.low_open else '>='} {self.low}" if self.low is not None else "",
                  f"{'<' if self.high_open else '<='} {self.high}" if self.high is not None else ""]
        return " and ".join(b for b in bounds if b) or "finite"


# The ranges every command shares.
COUNT = Range(int, 1)                      # steps, batch sizes, intervals, limits: at least one
NON_NEGATIVE = Range(int, 0)               # workers, warm-up steps, song counts
SEED = Range(int, 0, 2 ** 32 - 1)          # numpy's and torch's seeds alike
SECONDS = Range(float, 0, low_open=True)   # a length of audio: > 0
SAMPLE_RATE = Range(int, 8000, 192000)     # Hz
CHURN = Range(float, 0)                    # S_churn >= 0
SIGMA = Range(float, 0, low_open=True)     # a noise level: > 0
OVERLAP = Range(float, 0, 0.5, high_open=True)


@dataclass(frozen=True)
class Option:
    """One command-line option: ``flag`` (``--steps``, or a bare name for a positional), argparse's fields."""

    flag: str
    help: str
    dest: str | None = None
    range: Range | None = None
    choices: tuple[str, ...] | None = None
    default: object = None
    metavar: str | None = None
    required: bool = False
    switch: bool = False          # a store_true flag
    group: str | None = None      # an argparse argument group's title

    @property
    def positional(self) -> bool:
        return not self.flag.startswith("-")

    @property
    def name(self) -> str:
        """The attribute argparse stores the value under."""
        return self.dest or self.flag.lstrip("-").replace("-", "_")


#: The course's recommended separation setting (the defaults of ``msdm separate`` and ``msdm
#: evaluate``, the lab's start, the notebooks' headline numbers), as {option name: value}: Dirac with the
#: paper's Table 1 sampler — Euler, R = 2 correction resamples, the σ grid ρ 7 from σ_max 1 — on 12 steps
#: instead of 150 (24 NFE), with S_churn 0.4 for MSDM and ISDM alike, the grid ending at σ_min 3e-3 instead
#: of 1e-4, and seamless chunks overlapping by an eighth of a chunk instead of a quarter. Why
#: (docs/benchmarks.md, "Separation: choosing the recommended setting"): issue 12 asks for ≤ 0.5 s of
#: compute per second of audio, and Euler 24 × R 2 (48 NFE, the setting until the evening of 2026-12-04)
#: took 1.10 s on one thread. On 16 toy songs outside data_small, halving the steps on the paper's grid
#: lost 4 dB (13.50 → 9.48 dB): its last steps from σ 1e-3 to 1e-4 are too coarse for the Dirac sampler.
#: Ending the grid at 3e-3 (far below the stems' level) gives those steps to the range that matters:
#: 12.14 dB at 24 NFE, 11.95 dB with the smaller overlap (13.50 dB for the setting before), at 0.45 s of
#: one thread per second of audio (1.07 s before; "Long inputs: speed of seamless chunks and of bf16,
#: recommended setting"). On so few steps the paper's churn per step (S_churn 20·12/150 = 1.6, ISDM's
#: 3.2) re-noises more than the sampler can take back: on the same songs S_churn 0.4 gave 12.44 dB for
#: MSDM and 12.64 dB for the four ISDM models, against 11.95 and 12.35–12.78 dB at their other values
#: ("Separation: the churn of the recommended setting, MSDM and ISDM").
#: ``resamples`` None means the preset's (R 2).
#: ``presets.recommended_separation()`` gives its sampling config; ``--steps 150 --churn 20 --sigma-min
#: 1e-4`` is the paper's Table 1 setting exactly.
RECOMMENDED_STEPS = 12
RECOMMENDED_SIGMA_MAX = 1.0
RECOMMENDED_SIGMA_MIN = 3e-3
RECOMMENDED_CHURN = 0.4
RECOMMENDED_OVERLAP = 0.125
RECOMMENDED_SEPARATION = {"method": "dirac", "sampler": "euler", "steps": RECOMMENDED_STEPS, "churn": RECOMMENDED_CHURN,
                          "sigma_max": RECOMMENDED_SIGMA_MAX, "sigma_min": RECOMMENDED_SIGMA_MIN,
                          "chunking": DEFAULT_CHUNKING, "overlap": RECOMMENDED_OVERLAP, "batch": CHUNK_BATCH, "seed": 0}

#: The recommended sampler of the Gaussian likelihood (``msdm separate --method gaussian``'s defaults), which
#: differs from Dirac's: its likelihood pull grows like 1/σ, so the 12-step grid above is too coarse for it
#: (−13 to −37 dB on the development songs for every S_churn tried), and it wants much more churn. Chosen on the
#: same 16 development songs ("Separation: the churn of the recommended setting, Gaussian likelihood" in
#: docs/benchmarks.md; ``benchmarks/separation_setting.py --group gaussian``): Euler 48 steps × R 1 (48 NFE),
#: the paper's Gaussian churn per step (S_churn 40·48/150 = 12.8), σ from 1 to 3e-3.
RECOMMENDED_GAUSSIAN = {**RECOMMENDED_SEPARATION, "method": "gaussian", "steps": 48, "resamples": 1, "churn": 12.8}


def recommended_sampling(method: str) -> dict:
    """The recommended separation setting of a likelihood (``"dirac"`` or ``"gaussian"``), as {option: value}."""
    return RECOMMENDED_GAUSSIAN if method == "gaussian" else RECOMMENDED_SEPARATION

SAMPLING = "sampling (defaults: the paper's settings)"
SAMPLING_SEPARATION = "sampling (defaults: the course's recommended setting)"
GUIDANCE = Range(float, 0)                 # reconstruction guidance weight w >= 0
AUTOGUIDANCE = Range(float, 1)             # autoguidance weight w >= 1 (1: the model alone)


def guidance_option(used: str, default_text: str) -> Option:
    """``--guidance W``: reconstruction guidance on the known samples ``used`` (``tasks.reconstruction_guidance``);
    unset, the command's preset decides (``default_text`` says what it is)."""
    return Option("--guidance", f"reconstruction guidance weight w on {used}: the free stems move so that the "
                                f"model's estimate of the known samples comes out right; a guided step costs about "
                                f"two network calls (default {default_text}; paper: 0, the replacement method alone)",
                  range=GUIDANCE, metavar="W", group=SAMPLING)


#: ``--guide``'s default per command: generation is autoguided by the checkpoint's companion guide; imputation
#: is not, since on top of its reconstruction guidance it made the imputed piano too loud and farther from real
#: pianos (docs/training_recipe.md, section 4, "Autoguidance").
DEFAULT_GUIDE = {"generate": "auto", "impute": "none"}


def autoguidance_options(task: str) -> list[Option]:
    """``--guide C|auto|none``, ``--guide-weight W`` and ``--guide-sigma-max S``: autoguidance (``models.with_guide``)."""
    default = DEFAULT_GUIDE[task]
    defaults = {"auto": "auto (default): the checkpoint's companion NAME-guide.pt when it exists (msdm-tiny.pt ships "
                        "one); none: the model alone, as the paper",
                "none": "none (default): the model alone; auto: the checkpoint's companion NAME-guide.pt when it exists"}
    return [Option("--guide", "autoguidance: a weaker version of the model (trained shorter) that guides it, "
                              "D = D_guide + w·(D − D_guide); a guided step costs one more network call. "
                              + defaults[default], default=default, metavar="C|auto|none", group=SAMPLING),
            Option("--guide-weight", "autoguidance weight w (default: the one the guide file records; 1: no guidance)",
                   range=AUTOGUIDANCE, metavar="W", group=SAMPLING),
            Option("--guide-sigma-max", "guide only where σ ≤ S (default: what the guide file records, else every σ)",
                   range=SIGMA, metavar="S", group=SAMPLING)]


ISDM_HELP = "ISDM instead: one single-stem checkpoint per stem"
CONSTRAIN_HELP = "Dirac: the stem set to y − Σ others (default: the first, as the paper's code does)"


def sampling_options(task: str, paper_steps: str, paper_resamples: str = "R 1",
                     paper_sigma_max: str = "20") -> list[Option]:
    """``--steps --sampler --churn --sigma-max --sigma-min --resamples --seed --batch``: the task preset's
    sampler, overridden."""
    generate = task == "generate"
    separation = task in ("separate", "evaluate")
    group = SAMPLING_SEPARATION if separation else SAMPLING
    sampler = RECOMMENDED_SEPARATION["sampler"] if separation else "euler"
    dirac, gauss = RECOMMENDED_SEPARATION, RECOMMENDED_GAUSSIAN
    # a separation's defaults depend on --method, so they are filled in after parsing (recommended_sampling)
    sigma_max = dirac["sigma_max"] if separation else None
    sigma_min_help = (f"default {dirac['sigma_min']:g}, the course's recommended setting; paper: 1e-4" if separation
                      else "paper: 1e-4")
    sigma_max_help = (f"default {sigma_max:g}, the course's recommended setting; paper: {paper_sigma_max}" if separation
                      else f"paper: {paper_sigma_max}")
    steps_help = (f"σ steps (default {dirac['steps']} for dirac, {gauss['steps']} for gaussian, the course's "
                  f"recommended settings; paper: {paper_steps})" if separation
                  else f"σ steps (paper: {paper_steps}); without --churn, S_churn scales with the steps (the paper's "
                       "churn per step)")
    churn_help = (f"S_churn, the stochasticity (default {dirac['churn']:g} for dirac, MSDM and ISDM alike, "
                  f"{gauss['churn']:g} for gaussian: the course's recommended settings; paper: 20 on 150 steps for "
                  "MSDM Dirac, 40 for ISDM and Gaussian)" if separation
                  else "S_churn, the stochasticity (paper preset by default)")
    resamples_help = ("euler: R, the correction loop: each step is taken R times, re-noised in between, N·R NFE ("
                      + (f"default: the paper preset's for dirac, {gauss['resamples']} for gaussian; " if separation else "")
                      + f"paper: {paper_resamples})")
    return [
        Option("--steps", steps_help, range=COUNT, group=group),
        Option("--sampler", "euler: the paper's sampler (with its R correction resamples for separation); "
                            f"heun: EDM's second-order sampler, 2N−1 NFE (default {sampler})",
               choices=("euler", "heun"), default=sampler, group=group),
        Option("--churn", churn_help, range=CHURN, group=group),
        Option("--sigma-max", f"σ_max, the noise level the σ grid starts from ({sigma_max_help})", range=SIGMA,
               default=sigma_max, metavar="SIGMA", group=group),
        Option("--sigma-min", f"σ_min, the last noise level of the σ grid ({sigma_min_help})", range=SIGMA,
               metavar="SIGMA", group=group),
        Option("--resamples", resamples_help, range=COUNT, metavar="R", group=group),
        Option("--seed", "random seed; the same seed gives the same files (default 0)", range=SEED, default=0,
               group=group),
        Option("--batch", "songs to generate (default 1)" if generate else f"chunks per batch (default {CHUNK_BATCH})",
               range=COUNT, default=1 if generate else CHUNK_BATCH, group=group),
    ]


def chunk_options(chunking: bool = True, overlap: float | None = None) -> list[Option]:
    """``--chunk-seconds`` (and for inputs, ``--chunking``) and ``--overlap`` (default ``overlap``, else
    ``tasks.DEFAULT_OVERLAP``, a quarter)."""
    options = [Option("--chunk-seconds", "process the input in chunks of S seconds (rounded up to a valid length; "
                                         "default 32 × the U-Net's downsampling: 262144 samples for the paper's "
                                         "models, 32768 for tiny)", range=SECONDS, metavar="S")]
    if chunking:
        options.append(Option(
            "--chunking", "seamless (default, = bridge): overlapping chunks in two batches, the second holding its "
                          "overlaps with the first as known; independent: the paper's chunks, each alone (stems may "
                          "jump at joins); sequential: one chunk after another, each holding its overlap with the "
                          "previous one (best quality, no batching within a song); crossfade: overlapping chunks "
                          "each alone, crossfaded", choices=CHUNKINGS, default=DEFAULT_CHUNKING))
    default = ("0.25" if overlap is None else
               f"{overlap:g}, the course's recommended setting for separation; 0.25 for generation and imputation")
    options.append(Option("--overlap", f"overlap of neighbouring chunks, as a fraction of a chunk (default {default})",
                          range=OVERLAP, metavar="F", default=overlap))
    return options


PRECISION_OPTIONS = [
    Option("--precision", "bf16: the network under bfloat16 autocast; fp32: float32 (default: bf16 on CUDA and on "
                          "CPUs with native bf16, fp32 elsewhere)", choices=("bf16", "fp32")),
    Option("--compile", "run the network through torch.compile (minutes to compile; pays off on GPUs, long runs)",
           switch=True),
]


def run_options(json_help: str = "also write a summary as JSON") -> list[Option]:
    """``--stems --device --quiet --json``: what every inference command takes last."""
    return [
        Option("--stems", "comma-separated stems the checkpoint must have, in order (an error otherwise)"),
        Option("--device", "cpu, cuda, cuda:1 … (default: cuda when available)", default="auto"),
        Option("--quiet", "no progress bar", switch=True),
        Option("--json", json_help, metavar="FILE"),
    ]


def separation_choices() -> list[Option]:
    """``--method`` and ``--constrain``, defaulting to the recommended setting."""
    return [Option("--method", "likelihood (default dirac)", choices=("dirac", "gaussian"),
                   default=RECOMMENDED_SEPARATION["method"]),
            Option("--constrain", CONSTRAIN_HELP, metavar="STEM")]


COMMAND_OPTIONS: dict[str, list[Option]] = {
    "generate": [
        Option("--checkpoint", "MSDM checkpoint (ours or the paper's .ckpt)", required=True),
        Option("--out", "output folder (created; existing files of the same name are replaced)", required=True),
        Option("--seconds", "length in seconds (default: the model's chunk length, ≈ 11.9 s for the paper's models, "
                            "≈ 1.5 s for tiny); longer songs are outpainted, each chunk continuing the previous one",
               range=SECONDS),
        *chunk_options(chunking=False), *sampling_options("generate", "150 Euler steps"),
        guidance_option("the overlap each outpainted chunk holds (songs longer than one chunk)", "0"),
        *autoguidance_options("generate"),
        *PRECISION_OPTIONS,
        *run_options()],
    "impute": [
        Option("--checkpoint", "MSDM checkpoint", required=True),
        Option("--track", "track folder with {stem}.wav/.flac files", metavar="DIR", required=True),
        Option("--keep", "the stems to keep (the rest is generated)", metavar="STEM[,STEM…]", required=True),
        Option("--out", "output folder", required=True),
        Option("--seconds", "use only the first S seconds of the track", range=SECONDS),
        *chunk_options(), *sampling_options("impute", "256 Euler steps"),
        guidance_option("the kept stems and the samples earlier chunks finished",
                        f"{ImputationConfig.recommended().guidance:g}, the course's recommended setting"),
        *autoguidance_options("impute"),
        *PRECISION_OPTIONS, *run_options()],
    "separate": [
        Option("mixture", "the mixture (WAV or FLAC; stereo is downmixed)", metavar="MIX.wav"),
        Option("--checkpoint", "MSDM checkpoint (one model for all stems)"),
        Option("--isdm", ISDM_HELP, metavar="STEM=C,…"),
        Option("--out", "output folder", required=True),
        *separation_choices(), *chunk_options(overlap=RECOMMENDED_OVERLAP), *sampling_options("separate", "150 Euler steps × R 2", "R 2", "1"),
        *PRECISION_OPTIONS, *run_options()],
    "evaluate": [
        Option("--checkpoint", "MSDM checkpoint"),
        Option("--isdm", ISDM_HELP, metavar="STEM=C,…"),
        Option("--data", "data root in MSDM layout (DIR/SPLIT/TrackNNNNN/)", metavar="DIR", required=True),
        Option("--split", "split folder (default test)", default="test"),
        *separation_choices(),
        Option("--limit", "only the first N tracks", range=COUNT, metavar="N"),
        Option("--seconds", "only the first S seconds of each track", range=SECONDS),
        Option("--drop-partial-chunk", "drop each track's incomplete last chunk (the authors' evaluation)",
               switch=True),
        Option("--csv", "write DIR/windows.csv (per window) and DIR/summary.csv", metavar="DIR"),
        *chunk_options(overlap=RECOMMENDED_OVERLAP), *sampling_options("evaluate", "150 Euler steps × R 2", "R 2", "1"), *PRECISION_OPTIONS,
        *run_options("write the results as JSON: protocol, summary (per-stem and mean SI-SDRi), windows, run")],
}


def find_option(task: str, name: str) -> Option:
    """The option of ``msdm TASK`` stored under ``name`` (``"steps"``, ``"chunk_seconds"``, ``"mixture"``)."""
    if task not in COMMAND_OPTIONS:
        raise ValueError(f"unknown command {task!r}; choose one of {', '.join(COMMAND_OPTIONS)}")
    for option in COMMAND_OPTIONS[task]:
        if option.name == name:
            return option
    raise ValueError(f"msdm {task} has no option for {name!r}")


SHELL_SPECIAL = set(" \t\n'\"$`\\;&|<>*?()[]{}!#~")


def render_value(value) -> str:
    """A value as typed on a command line: floats in their shortest form (0.25, 3), tuples comma-joined,
    quoted only when a shell would split or expand it (placeholders such as ``STEM=C,…`` stay bare)."""
    if isinstance(value, float):
        text = f"{value:g}"
    elif isinstance(value, (tuple, list)):
        text = ",".join(map(str, value))
    else:
        text = str(value)
    return "'" + text.replace("'", "'\\''") + "'" if SHELL_SPECIAL & set(text) or not text else text


def command_line(task: str, settings: dict) -> str:
    """The ``msdm TASK …`` command line of ``settings`` ({option name: value}), in the dict's order.

    Names are the parsed attributes (``"steps"``, ``"chunk_seconds"``, ``"mixture"`` for the
    positional); a value of None (or False for a switch) is left out; choices and ranges are checked
    against the same definitions the command line parses with, so the rendered command runs.
    Example: ``command_line("separate", {"checkpoint": "m.pt", "mixture": "song.wav", "out": "stems"})``
    → ``msdm separate --checkpoint m.pt song.wav --out stems``.
    """
    parts = ["msdm", task]
    for name, value in settings.items():
        option = find_option(task, name)
        if value is None or value is False:
            continue
        if option.choices is not None and value not in option.choices:
            raise ValueError(f"{option.flag} {value}: choose one of {', '.join(option.choices)}")
        if option.switch:
            parts.append(option.flag)
            continue
        text = render_value(value)
        parts += [text] if option.positional else [option.flag, text]
    return " ".join(parts)


__all__ = ["Range", "Option", "COMMAND_OPTIONS", "RECOMMENDED_SEPARATION", "RECOMMENDED_GAUSSIAN", "recommended_sampling", "CHUNKINGS", "command_line",
           "find_option", "COUNT", "NON_NEGATIVE", "SEED", "SECONDS", "SAMPLE_RATE", "SIGMA", "RECOMMENDED_SIGMA_MAX",
           "RECOMMENDED_SIGMA_MIN", "RECOMMENDED_OVERLAP"]
