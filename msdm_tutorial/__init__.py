"""msdm-tutorial: a course and a compact library for Multi-Source Diffusion Models (MSDM).

Mariani, Tallini, Postolache, Mancusi, Cosmo, Rodolà, "Multi-Source Diffusion Models for
Simultaneous Music Generation and Separation", ICLR 2024 (arXiv 2302.02257).

One module per concept: ``schedules`` (σ grids), ``denoiser`` (EDM preconditioning and loss),
``samplers`` (Euler / Heun / ADPM2 loops), ``toy2d`` (2-D data and closed-form denoisers),
``course`` (notebook helpers), ``cli`` (the ``msdm`` command).
"""

__version__ = "0.1.0"

STEMS = ("bass", "drums", "guitar", "piano")
SAMPLE_RATE = 22050
