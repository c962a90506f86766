"""A progress bar over sampler steps, for the ``callback`` of :mod:`msdm_tutorial.tasks`.

    with StepProgress(cfg.num_steps, "separate") as bar:
        tasks.separate(model, y, cfg, callback=bar)

It counts one tick per call (one σ step of one sampler pass), so ``total`` is passes × steps.
"""

from __future__ import annotations


class StepProgress:
    """A tqdm bar counting sampler steps; off with ``quiet``, and off a terminal by tqdm's own rule."""

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


__all__ = ["StepProgress"]
