"""msdm_tutorial.options: the inference options as data, the command line built from them, and the
recommended separation setting that is the default of msdm separate / evaluate."""

import shlex

import pytest

from msdm_tutorial import cli, options, presets, tasks
from msdm_tutorial.cli.task_commands import sampling_overrides


def _parse(argv):
    return cli.build_parser().parse_args(argv)


@pytest.mark.parametrize("command", ["separate", "evaluate"])
def test_cli_defaults_are_the_recommended_separation(command):
    required = ["--checkpoint", "c.pt", "m.wav", "--out", "o"] if command == "separate" else \
        ["--checkpoint", "c.pt", "--data", "d"]
    args = _parse([command, *required])
    sampling = {"steps", "sampler", "churn", "sigma_max", "sigma_min"}    # filled in per --method after parsing
    for name, value in options.RECOMMENDED_SEPARATION.items():
        if name not in sampling:
            assert getattr(args, name) == value, name
    for method in ("dirac", "gaussian"):
        args = _parse([command, *required, "--method", method])
        cfg = presets.recommended_separation(False, args.method, **sampling_overrides(args))
        assert cfg == presets.recommended_separation(method=method)
        recommended = options.recommended_sampling(method)
        assert (cfg.num_steps, cfg.sampler, cfg.s_churn, cfg.sigma_max, cfg.sigma_min) == \
            tuple(recommended[k] for k in ("steps", "sampler", "churn", "sigma_max", "sigma_min"))


def test_the_gaussian_likelihood_has_its_own_recommended_setting():
    """48 Euler steps × R 1 with the paper's Gaussian churn per step, down to σ_min 3e-3: the Dirac setting's
    12 steps are too coarse for the Gaussian likelihood (docs/benchmarks.md)."""
    cfg = presets.recommended_separation(method="gaussian")
    assert cfg == tasks.SeparationConfig.paper_gaussian().with_steps(48).replace(num_resamples=1, sigma_min=3e-3)
    assert cfg.s_churn == pytest.approx(40 * 48 / 150) and cfg.nfe == 48
    assert presets.recommended_separation(method="gaussian", steps=96, churn=0.0).num_steps == 96


def test_recommended_separation_is_the_papers_dirac_preset_at_12_steps_ending_at_sigma_3e_3():
    """The paper's sampler on 12 steps with S_churn 0.4 (MSDM and ISDM), the grid ending at σ_min 3e-3, 24 NFE."""
    assert presets.recommended_separation() == \
        tasks.SeparationConfig.paper_dirac().replace(num_steps=12, s_churn=0.4, sigma_min=3e-3)
    assert presets.recommended_separation(isdm=True) == \
        tasks.SeparationConfig.paper_isdm_dirac().replace(num_steps=12, s_churn=0.4, sigma_min=3e-3)
    cfg = presets.recommended_separation()
    assert (cfg.sampler, cfg.num_resamples, cfg.sigma_max, cfg.sigma_min, cfg.nfe) == ("euler", 2, 1.0, 3e-3, 24)
    assert presets.settings_text(cfg) == "euler 12 steps × R 2, S_churn 0.4, σ_max 1, σ_min 0.003 (24 NFE)"
    assert float(cfg.sigmas()[-2]) == pytest.approx(3e-3) and float(cfg.sigmas()[0]) == pytest.approx(1.0)


def test_the_papers_table_1_command_gives_the_papers_preset():
    args = _parse(["separate", "--checkpoint", "c.pt", "m.wav", "--out", "o", "--sampler", "euler", "--steps", "150",
                   "--churn", "20", "--sigma-max", "1", "--sigma-min", "1e-4"])
    assert presets.separation_settings(args.method, False, args.steps, args.sampler, args.churn, args.resamples,
                                       args.sigma_max, args.sigma_min) == tasks.SeparationConfig.paper_dirac()
    for bad in (["--sigma-max", "0"], ["--sigma-min", "0"], ["--sigma-min", "-1e-3"]):
        with pytest.raises(SystemExit):
            _parse(["separate", "--checkpoint", "c.pt", "m.wav", "--out", "o", *bad])
    with pytest.raises(ValueError, match="sigma"):      # σ_min above σ_max: the config class refuses it
        presets.separation_settings("dirac", False, sigma_max=0.5, sigma_min=0.6)


def test_steps_without_churn_keep_the_churn_per_step_and_150_steps_are_the_paper():
    paper = tasks.SeparationConfig.paper_dirac()
    assert presets.separation_settings("dirac", False, steps=150) == paper
    assert presets.separation_settings("dirac", False, steps=30).s_churn == pytest.approx(20 * 30 / 150)
    assert presets.separation_settings("dirac", False, steps=30, churn=7.0).s_churn == 7.0


def test_command_line_renders_what_the_cli_parses():
    settings = {"checkpoint": "my model.pt", "mixture": "song.wav", "method": "gaussian", "out": "OUT",
                "steps": 3, "sampler": "heun", "churn": 20.0, "seed": 4, "batch": 2, "quiet": True}
    line = options.command_line("separate", settings)
    assert line.startswith("msdm separate --checkpoint 'my model.pt' song.wav --method gaussian --out OUT --steps 3")
    args = _parse(shlex.split(line)[1:])
    for name, value in settings.items():
        assert getattr(args, name) == value, name


def test_resamples_overrides_the_presets_R():
    """``--resamples R`` (Euler's correction loop) is an option of every inference command and
    overrides the preset's R; the config class refuses R < 1 and R with Heun."""
    for command in ("generate", "impute", "separate", "evaluate"):
        assert options.find_option(command, "resamples").flag == "--resamples"
    args = _parse(["separate", "--checkpoint", "c.pt", "m.wav", "--out", "o", "--resamples", "3"])
    assert args.resamples == 3
    assert presets.separation_settings("dirac", False, resamples=args.resamples) == \
        tasks.SeparationConfig.paper_dirac().replace(num_resamples=3)
    assert presets.separation_settings("dirac", False).num_resamples == 2, "no --resamples: the preset's R"
    assert presets.with_overrides(tasks.GenerationConfig.paper(), steps=10, resamples=2).nfe == 20
    with pytest.raises(ValueError, match="heun"):
        presets.separation_settings("dirac", False, sampler="heun", resamples=2)
    with pytest.raises(ValueError, match="num_resamples must be >= 1"):
        presets.with_overrides(tasks.GenerationConfig.paper(), resamples=0)


def test_command_line_checks_names_and_choices():
    with pytest.raises(ValueError, match="no option"):
        options.command_line("generate", {"method": "dirac"})
    with pytest.raises(ValueError, match="choose one of"):
        options.command_line("separate", {"sampler": "adpm2"})
    assert options.command_line("generate", {"checkpoint": "c.pt", "seconds": None, "quiet": False}) == \
        "msdm generate --checkpoint c.pt"


def test_every_defined_option_is_in_the_parser():
    parser = cli.build_parser()
    sub = next(a for a in parser._actions if a.dest == "command").choices
    for command, defined in options.COMMAND_OPTIONS.items():
        dests = {a.dest for a in sub[command]._actions}
        assert {o.name for o in defined} <= dests, command
