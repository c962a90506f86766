"""What the tasks take in: stem names (:func:`parse_stems`, the one parser of ``"bass,drums"`` lists)
and masks, and mixtures, checked with errors that say what is wrong.

Stems are (B, K, T) in the order of the model's ``stems`` (default ``STEMS``); a mixture is
y = Σ_k x_k of shape (B, 1, T). A mixture whose peak |y| is below :data:`SILENT_PEAK` is *silent*:
it has no sources to find (:func:`silent_items`, the one rule the library, the command line and
the lab use).
"""

from __future__ import annotations

from typing import Iterable, Sequence

import torch
from torch import Tensor

from . import STEMS
from ._checks import check_finite

#: A mixture whose peak |y| is below this (−120 dBFS) is treated as silent: nothing to separate.
SILENT_PEAK = 1e-6


def resolve_stems(denoiser, stems: Sequence[str] | None = None) -> tuple[str, ...]:
    """The stem names a task works with: ``stems`` if given, else ``denoiser.stems``, else STEMS.

    Raises ValueError when both are given and differ (e.g. a checkpoint trained on other stems).
    """
    own = getattr(denoiser, "stems", None)
    if stems is not None:
        stems = tuple(stems)
        if own is not None and tuple(own) != stems:
            raise ValueError(f"the model's stems {tuple(own)} differ from the requested stems {stems}")
        return stems
    return tuple(own) if own is not None else tuple(STEMS)


def stem_index(stem: int | str, stems: Sequence[str]) -> int:
    """Index of a stem given by name or by index, with a clear error for unknown names."""
    if isinstance(stem, str):
        if stem not in stems:
            raise ValueError(f"unknown stem {stem!r}; the stems are {', '.join(stems)}")
        return list(stems).index(stem)
    if not 0 <= int(stem) < len(stems):
        raise ValueError(f"stem index {stem} out of range for {len(stems)} stems")
    return int(stem)


def parse_stems(text: str | None, option: str = "--stems") -> tuple[str, ...] | None:
    """``"bass, drums"`` → ("bass", "drums"); None stays None. Empty or repeated names are errors."""
    if text is None:
        return None
    stems = tuple(s.strip() for s in text.split(",") if s.strip())
    if not stems:
        raise ValueError(f"{option}: name at least one stem")
    if len(set(stems)) != len(stems):
        raise ValueError(f"{option} {text}: a stem is named twice")
    return stems


def stem_mask(keep: Iterable[str] | Tensor, stems: Sequence[str]) -> Tensor:
    """The (K,) 0/1 mask of the kept stems; ``keep`` is stem names or already a mask."""
    if isinstance(keep, Tensor):
        return keep.float()
    if isinstance(keep, str):
        keep = parse_stems(keep, "keep")
    keep = list(keep)
    unknown = [s for s in keep if s not in stems]
    if unknown:
        raise ValueError(f"unknown stem(s) {', '.join(map(repr, unknown))} in keep; "
                         f"the stems are {', '.join(stems)}")
    return torch.tensor([1.0 if s in keep else 0.0 for s in stems])


def check_stems_shape(x: Tensor, num_stems: int, what: str) -> None:
    """Raise ValueError unless ``x`` is (B, K, T) with K = ``num_stems``."""
    if x.ndim != 3 or x.shape[1] != num_stems:
        raise ValueError(f"{what} must have shape (B, {num_stems}, T) for {num_stems} stems, got {tuple(x.shape)}")


def mixture_shape(mixture: Tensor) -> Tensor:
    """A mixture of shape (T,), (B, T) or (B, 1, T) as (B, 1, T) (a view); anything else is a ValueError."""
    if mixture.ndim == 1:
        mixture = mixture[None, None]
    elif mixture.ndim == 2:
        mixture = mixture[:, None]
    if mixture.ndim != 3 or mixture.shape[1] != 1:
        raise ValueError(f"mixture must have shape (T,), (B, T) or (B, 1, T), got {tuple(mixture.shape)}")
    return mixture


def silent_items(mixture: Tensor) -> list[int]:
    """Indices of the silent items of a mixture ((T,), (B, T) or (B, 1, T)): max_t |y_t| < :data:`SILENT_PEAK`.

    A (T,) mixture is one item: ``[0]`` when it is silent, ``[]`` when not.
    """
    peak = mixture_shape(torch.as_tensor(mixture)).abs().flatten(1).amax(1)
    return (peak < SILENT_PEAK).nonzero().flatten().tolist()


def as_mixture(mixture: Tensor, check_silence: bool = True) -> Tensor:
    """Bring a mixture to shape (B, 1, T) — accepts (T,), (B, T) or (B, 1, T) — and check it.

    Raises ValueError for NaN/Inf samples and (``check_silence``) for an item whose peak is
    below ``SILENT_PEAK`` (:func:`silent_items`): a silent mixture has no sources to find.
    """
    if not isinstance(mixture, Tensor):
        raise ValueError(f"mixture must be a torch.Tensor, got {type(mixture).__name__}")
    mixture = mixture_shape(mixture)
    if mixture.shape[-1] < 1:
        raise ValueError("mixture is empty (0 samples)")
    check_finite(mixture, "mixture")
    silent = silent_items(mixture) if check_silence else []
    if silent:
        which = "the mixture is" if mixture.shape[0] == 1 else f"mixture item(s) {silent} are"
        raise ValueError(f"{which} silent (peak below {SILENT_PEAK:g}); there is nothing to separate")
    return mixture
