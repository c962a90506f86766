"""The exercises of notebooks 00–04, 06, 07 and 11 (and 05's exercise 2): every self-check passes the
solution and fails typical wrong answers, and every solution cell of those notebooks goes through one
of these checks.

(nbval runs the notebooks themselves, so the solution cells are also checked in place.)"""

import math
import re
from pathlib import Path

import jupytext
import pytest
import torch

from msdm_tutorial import exercises, schedules, toy2d, unet
from msdm_tutorial.denoiser import EDMDenoiser, edm_loss

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ["00_tour", "01_diffusion_basics", "02_schedules_and_preconditioning", "03_samplers", "04_unet",
             "06_training", "07_generation", "11_reproduce_paper"]
# notebooks where only some exercises go through msdm_tutorial.exercises: notebook -> those checks
PARTIAL = {"05_data": {"multi_source_count"}}
SR = 22050


def note(freq, seconds=2.0):
    t = torch.arange(int(SR * seconds)) / SR
    return 0.3 * torch.sin(2 * torch.pi * freq * t) * torch.exp(-1.5 * t)


def stems():
    g = torch.Generator().manual_seed(0)
    return torch.randn(4, SR, generator=g) * 0.1


RING = toy2d.ring_mixture(num=8, radius=2.0, std=0.15)


def ring_points():
    return RING.sample(20_000, generator=torch.Generator().manual_seed(0))


def lognormal_draws():
    return schedules.LogNormalSigma(mean=-3.0, std=1.0).sample(200_000, generator=torch.Generator().manual_seed(0))


def heun_errors():
    """Heun's error against a fine reference at 64 and 128 steps on the ring (as notebook 03 measures)."""
    from msdm_tutorial import samplers

    deriv = samplers.score_derivative(RING.denoiser)
    x = 80.0 * torch.randn(500, 2, generator=torch.Generator().manual_seed(0))
    grid = lambda n: schedules.karras_sigmas(n, 0.002, 80.0, 7.0)  # noqa: E731
    ref = samplers.heun(deriv, x, grid(1024))
    return [(samplers.heun(deriv, x, grid(n)) - ref).norm(dim=1).mean().item() for n in (64, 128)]


def zero_net_loss_at_10():
    """The do-nothing network's weighted loss at σ = 10 on data of RMS 2σ_d = 0.4 (notebook 06's set-up)."""
    class Zero(torch.nn.Module):
        def forward(self, x, c_noise):
            return torch.zeros_like(x)

    g = torch.Generator().manual_seed(0)
    x = torch.randn(8, 4, 4096, generator=g)
    x = x * 0.4 / x.pow(2).mean().sqrt()
    zero = EDMDenoiser(Zero(), sigma_data=0.2, clamp=False)
    return edm_loss(zero, x, torch.full((8,), 10.0), torch.randn(x.shape, generator=g), 0.2).item()


def adpm2_setup():
    from msdm_tutorial import samplers

    deriv = samplers.score_derivative(RING.denoiser)
    return deriv, 80.0 * torch.randn(10, 2, generator=torch.Generator().manual_seed(0)), \
        schedules.karras_sigmas(50, 0.002, 80.0, 7.0)



TOY = ROOT / "data_small" / "toy"


def generated_like():
    """Stand-in for notebook 07's samples: (N, K, T) noise, each sample and stem different."""
    return torch.randn(5, 4, 2048, generator=torch.Generator().manual_seed(0))


def rolled(x, drums=1, shift=-1):
    y = x.clone()
    others = [k for k in range(x.shape[1]) if k != drums]
    y[:, others] = x[:, others].roll(shift, dims=0)
    return y


def protocol_windows():
    """The per-window rows and the bass summary of ``metrics.evaluate`` on two noisy 'separations'."""
    from msdm_tutorial import metrics

    g = torch.Generator().manual_seed(0)
    refs = [torch.randn(4, 8 * SR, generator=g) * 0.1 for _ in range(2)]
    triples = [(f"t{i}", r + 0.05 * torch.randn(r.shape, generator=g) * (i + 1), r) for i, r in enumerate(refs)]
    result = metrics.evaluate(triples, SR)
    return result["windows"], result["summary"]["si_sdri"]["bass"]


WINDOWS, BASS = protocol_windows()

TINY_WIDE = unet.PRESETS["tiny"].replace(factors=(4, 4, 4, 4))
GOLDEN = math.sqrt((math.sqrt(5) - 1) / 2)

# check name -> (context factory, solution args, [wrong args, ...]); args follow the learner's answer(s)
CASES = {
    "octave_down": (lambda: (note(110.0), 110.0, SR), (note(55.0),), [(note(110.0),), (note(55.0, 1.0),),
                                                                       (note(220.0),)]),
    "last_stem": (lambda: (stems()[3],), (stems().sum(0) - stems()[:3].sum(0),), [(stems().sum(0),), (stems()[2],)]),
    "noisy_variance": (lambda: (ring_points(), 1.0), (float(RING.covariance()[0, 0]) + 1.0,),
                       [(float(RING.covariance()[0, 0]),), (1.0,), (float(RING.covariance()[0, 0]) + 2.0,)]),
    "far_guess": (lambda: (RING, 100.0), (RING.mean(),), [(RING.means[0],), (torch.tensor([100.0, 0.0]),)]),
    "skip_out_crossing": (lambda: (), (lambda sd: sd * GOLDEN,),
                          [(lambda sd: sd,), (lambda sd: 0.157,), (lambda sd: sd * (math.sqrt(5) - 1) / 2,)]),
    "fraction_below": (lambda: (lognormal_draws(), 0.01),
                       (0.5 * (1 + math.erf((math.log(0.01) + 3) / math.sqrt(2))),),
                       [(0.5 * (1 - math.erf((math.log(0.01) + 3) / math.sqrt(2))),), (0.01,), (0.5,)]),
    "error_ratio": (lambda: tuple(heun_errors()), (4,), [(2,), (16,)]),
    "adpm2_nfe": (lambda: adpm2_setup(), (98,), [(100,), (50,), (99,)]),
    "paper_input": (lambda: (5.0, SR), (14 * 8192, 14), [(5 * SR, 14), (14 * 8192, 13), (13 * 8192, 13)]),
    "wider_last_factor": (lambda: (32768,), (TINY_WIDE, True, 16),
                          [(TINY_WIDE, False, 16), (TINY_WIDE, True, 32), (unet.PRESETS["tiny"], False, 32)]),
    "zero_net_loss": (lambda: (zero_net_loss_at_10(),), ((100 * 0.16 + 0.2 ** 4) / ((100 + 0.04) * 0.04),),
                      [(1.0,), (16.0,), (0.25,)]),
    "rank_samples": (lambda: (3, 1, 4, 8), ([25, 29],), [([24, 28],), ([9, 13],), ([25, 26],)]),
    "multi_source_count": (lambda: (TOY, 3e-4), (15,), [(24,), (0,), (1,)]),
    "shuffled_pairing": (lambda: (generated_like(), 1), (rolled(generated_like()),),
                         [(generated_like(),), (rolled(generated_like(), shift=1),),
                          (generated_like().roll(-1, dims=0),)]),
    "start_rms": (lambda: (20.0, 0.18), (20.03,), [(1.0,), (0.18,), (40.0,), (400.0,)]),
    "paper_chunks": (lambda: (200.0, 22050, 262144), (16, (4_410_000 - 16 * 262144) / 22050),
                     [(17, 0.0), (16, 0.0), (16, 200 - 16 * 11.89)]),
    "window_mean": (lambda: (WINDOWS, BASS, "bass"), (sum(w["bass"] for w in WINDOWS) / len(WINDOWS),),
                    [(sorted(w["bass"] for w in WINDOWS)[len(WINDOWS) // 2],), (WINDOWS[0]["bass"],),
                     (sum(w["drums"] for w in WINDOWS) / len(WINDOWS),)]),
}


@pytest.mark.parametrize("name", CASES)
def test_solution_passes_and_wrong_answers_fail(name, capsys):
    check = getattr(exercises, name)
    make_context, solution, wrongs = CASES[name]
    context = make_context()
    line = check(*solution, *context)
    assert line and line.startswith("Right:") and line in capsys.readouterr().out, "a solution prints a labelled result"
    for wrong in wrongs:
        with pytest.raises(AssertionError, match="."):        # a wrong answer fails, with a hint
            check(*wrong, *context)


@pytest.mark.parametrize("name", CASES)
def test_unanswered_prints_a_note_and_passes(name, capsys):
    make_context, solution, _ = CASES[name]
    check = getattr(exercises, name)
    assert check(*([None] * len(solution)), *make_context()) is None
    assert exercises.NOT_ANSWERED in capsys.readouterr().out


def exercise_cells(name):
    """(check cell, solution cell) source pairs of one notebook: a solution is tagged "solution" and its
    check is the code cell before it that mentions the same exercises function."""
    cells = jupytext.read(ROOT / "notebooks" / f"{name}.py").cells
    pairs = []
    for i, cell in enumerate(cells):
        if "solution" in cell.metadata.get("tags", []):
            check = next(c for c in reversed(cells[:i]) if c.cell_type == "code")
            pairs.append((check.source, cell.source))
    return pairs


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_every_solution_goes_through_a_tested_check(name):
    pairs = exercise_cells(name)
    assert len(pairs) >= 2, f"{name}: expected two exercises with hidden solutions"
    for check, solution in pairs:
        called = set(re.findall(r"exercises\.(\w+)\(", solution))
        assert called, f"{name}: a solution cell does not call an exercises.* check:\n{solution}"
        assert called <= set(CASES), f"{name}: {called - set(CASES)} have no right/wrong test here"
        assert called <= set(re.findall(r"exercises\.(\w+)\(", check)), \
            f"{name}: the check cell before a solution must call the same check"


@pytest.mark.parametrize("name", PARTIAL)
def test_partly_converted_notebooks_call_their_tested_checks(name):
    """05: exercise 2's solution goes through its check (its other exercises check themselves in place)."""
    called = set()
    for check, solution in exercise_cells(name):
        found = set(re.findall(r"exercises\.(\w+)\(", solution))
        assert found <= set(re.findall(r"exercises\.(\w+)\(", check)), \
            f"{name}: the check cell before a solution must call the same check"
        called |= found
    assert PARTIAL[name] <= called, f"{name}: no solution cell calls {PARTIAL[name] - called}"
    assert called <= set(CASES), f"{name}: {called - set(CASES)} have no right/wrong test here"


def test_crossing_finds_the_root_by_bisection():
    assert exercises.crossing(lambda s: s ** 2, lambda s: 2.0 + 0 * s, 0.1, 10) == pytest.approx(math.sqrt(2), rel=1e-12)
    with pytest.raises(ValueError, match="sign"):
        exercises.crossing(lambda s: s, lambda s: -1 + 0 * s, 0.1, 10)
