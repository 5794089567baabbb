"""Train a learner (a stable-baselines3 algorithm or DCL) on any task and benchmark it.

    python -m experiments.train                                    # DCL on lost sales (make train)
    python -m experiments.train agent=ppo                          # PPO on lost sales
    python -m experiments.train env=fulfillment_center agent=ppo shared=true
    python -m experiments.train agent=dqn total_timesteps=200000 seed=1
    python -m experiments.train experiment=lost_sales_dcl env.lead_time=4 env.penalty=39
    python -m experiments.train logger=wandb                       # offline wandb run
    python -m experiments.train resume=outputs/train/<run>         # continue a run
    python -m experiments.train -m seed=0,1,2 hydra/launcher=local_parallel
    python -m experiments.train smoke=true                         # every stage in seconds

The recipe: build the task (``configs/env/<task>.yaml``), validate the run, fix the task's
derived training options (saved with the run), build the training VecEnv (the task's
single-agent training envs, or with ``shared=true`` its agents as the sub-envs of one
VecEnv: one policy for every agent) with VecNormalize, train to exactly ``total_timesteps``
with periodic validation on validation seeds and atomic checkpoints, then evaluate the best
(or last) policy against the task's agents on the test seeds with the benchmark's own code.
Returns the best validation mean cost per period, the metric Hydra sweepers minimise.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import hydra
import yaml
from omegaconf import DictConfig, OmegaConf

from agents.harness import EvalSettings
from agents.parts import task_plots
from agents.rl.algorithms import agent_settings, algorithm, check_algorithm
from agents.seeds import MAX_SEED, VALID_SEED_BASE
from envs.core.config import ConfigError, check_bool, check_choice, check_float, check_int
from experiments.benchmark import agent_names, build_agents
from experiments.support.common import (
    apply_smoke,
    checked_groups,
    clean_errors,
    command_line,
    eval_settings,
    make_console,
    make_task,
    progress_bar,
    run_dir,
    save_resolved_config,
    set_unless_given,
    tuning_reps,
)
from experiments.support.rundir import read_marker, write_marker

log = logging.getLogger(__name__)
# Keys a resumed run may change (anything else must equal the run's saved value).
RESUMABLE = ("total_timesteps", "progress_bar", "torch_threads", "resume_allow_missing", "checkpoint.",
             "validation.freq", "eval.", "benchmark.", "tuning.", "logger.")
MAX_CLIP = 1e6  # largest normalize.clip_obs / clip_reward (VecNormalize clips to [-clip, clip])


def validate(cfg: DictConfig, task, algo) -> None:
    check_int("total_timesteps", cfg.total_timesteps, 1, 10**12)
    check_int("n_envs", cfg.n_envs, 1, 256)
    check_int("seed", cfg.seed, 0, MAX_SEED)
    check_int("torch_threads", cfg.torch_threads, 1, 256)
    check_bool("shared", cfg.shared)
    vec_env_choice(cfg, task, algo)
    check_bool("resume_allow_missing", cfg.resume_allow_missing)
    check_bool("progress_bar", cfg.progress_bar)
    normalize_settings(cfg.normalize)
    agent_settings(cfg.agent)
    tuning_reps(cfg.tuning.reps)
    check_choice("benchmark.model", cfg.benchmark.model, ("best", "last"))
    check_int("validation.freq", cfg.validation.freq, 1)
    check_int("checkpoint.freq", cfg.checkpoint.freq, 1)
    check_int("checkpoint.keep", cfg.checkpoint.keep, 1)
    eval_settings(cfg.eval, "eval")
    validation_settings(cfg)
    agent_names(task, cfg.benchmark.agents, "benchmark.agents")
    check_algorithm(task, algo, bool(cfg.shared))
    if cfg.logger.get("wandb"):
        from agents.rl.tracking import wandb_mode

        wandb_mode(OmegaConf.to_container(cfg.logger.wandb))


def normalize_settings(section: DictConfig) -> None:
    """``normalize``: two switches and VecNormalize's two clipping bounds (finite, > 0)."""
    for key in ("obs", "reward"):
        check_bool(f"normalize.{key}", section.get(key))
    for key in ("clip_obs", "clip_reward"):
        check_float(f"normalize.{key}", section.get(key), 0.0, MAX_CLIP, strict_low=True)


def vec_env_choice(cfg: DictConfig, task, algo) -> str:
    """``vec_env`` (``agents.rl.vec_env``), checked: ``batched`` needs a task with a training batch
    (a run saved before the switch existed trained on ``dummy``)."""
    from agents.rl.vec_env import VEC_ENVS, training_batch

    choice = check_choice("vec_env", OmegaConf.select(cfg, "vec_env", default="dummy"), VEC_ENVS)
    if not cfg.shared:
        training_batch(task, 1, 0, algo.maskable, choice)
    return choice


def validation_settings(cfg: DictConfig) -> EvalSettings:
    """Every validation plays the same ``validation.reps`` replications (no stopping rule)."""
    v = cfg.validation
    return EvalSettings(v.periods, v.warmup, v.reps, v.reps, 0.0, VALID_SEED_BASE, "validation")


def smoke_training(cfg: DictConfig, task, algo) -> dict:
    """Training settings that make ``smoke=true`` take seconds: two short rollouts."""
    n_envs = 2
    batch = task.shared_batch(1, 0) if cfg.shared is True else None  # a bad ``shared`` fails in validate
    width = n_envs * (batch.num_envs if batch is not None else 1)
    kwargs = cfg.agent.get("kwargs") or {}
    if algo.needs_problem:  # DCL: two generations of a few states, few short rollouts
        extra, total = {"n_states": 64, "reps": 4, "horizon": 4, "n_epochs": 2}, 128
    elif algo.off_policy:
        extra, total = {"learning_starts": 32, "buffer_size": 2000, "batch_size": 16}, 128
    else:
        extra = {"n_steps": 16, **({"batch_size": 16} if "batch_size" in kwargs else {})}
        total = 2 * 16 * width
    return {"n_envs": n_envs, "total_timesteps": total, "validation.freq": total // 2, "checkpoint.freq": total // 2,
            **{f"agent.kwargs.{k}": v for k, v in extra.items()}}


def resumed_config(cfg: DictConfig) -> DictConfig:
    """The resumed run's saved config, with this command's overrides: equal values and config
    groups pass, keys of ``RESUMABLE`` change, anything else is refused in one line."""
    from hydra.core.hydra_config import HydraConfig

    from agents.rl.loading import read_run_config

    path = Path(str(cfg.resume))
    base = read_run_config(path, "resume")
    saved_choices = read_marker(path).get("choices", {})
    hydra_cfg = HydraConfig.get()
    for item in hydra_cfg.overrides.task:
        key, _, value = item.partition("=")
        key = key.lstrip("+~")
        if key in ("resume", "resume_allow_missing") or key.startswith("hydra"):
            continue
        if key in hydra_cfg.runtime.choices:  # a config group: the run's own groups are kept
            now, saved = hydra_cfg.runtime.choices[key], saved_choices.get(key)
            if saved is not None and str(saved) != str(now):
                raise ConfigError(f"resume: the run was trained with {key}={saved}; config groups cannot change "
                                  f"when resuming (got {key}={now})")
            continue
        new, old = yaml.safe_load(value), OmegaConf.select(base, key, default="__missing__")
        if old == "__missing__":
            raise ConfigError(f"resume: {key} is not a key of the run's config {path / 'config.yaml'}")
        if old == new:
            continue
        if not key.startswith(RESUMABLE):
            raise ConfigError(f"resume: {key} cannot change when resuming (the run has {key}={old}); only "
                              f"{', '.join(k.rstrip('.') + ('.*' if k.endswith('.') else '') for k in RESUMABLE)} can")
        OmegaConf.update(base, key, new, merge=True)
    base.resume = str(cfg.resume)
    base.resume_allow_missing = bool(cfg.resume_allow_missing)
    return base


def record_resume(cfg: DictConfig, out: Path) -> None:
    """Record an accepted resume beside the run's first ``.hydra`` record, in
    ``.hydra/resumed-<time>/`` (``configs/train.yaml`` has Hydra write nothing for a resume, so
    a refused one leaves the run directory as it was): its overrides, the resumed config and
    Hydra's config."""
    from hydra.core.hydra_config import HydraConfig

    hydra_cfg = HydraConfig.get()
    record = out / ".hydra" / f"resumed-{time.strftime('%Y-%m-%d_%H-%M-%S')}"
    record.mkdir(parents=True, exist_ok=True)
    OmegaConf.save(cfg, record / "config.yaml")
    OmegaConf.save(OmegaConf.create({"hydra": hydra_cfg}), record / "hydra.yaml")
    OmegaConf.save(OmegaConf.create(list(hydra_cfg.overrides.task)), record / "overrides.yaml")


def final_policy(cfg: DictConfig, out: Path, session, make_live):
    """The policy benchmarked at the end: the best on validation (loaded safely from
    ``best/``), or the last."""
    from agents.rl.loading import load_policy, open_run, preferred_checkpoint

    if cfg.benchmark.model == "best" and (out / "best" / "model.zip").is_file():
        run = open_run(out)
        return load_policy(run, preferred_checkpoint(run, "best"), name=cfg.agent.name)
    return make_live(session.model, session.venv)


def report(cfg: DictConfig, task, out: Path, policy, console, wandb_run):
    """Benchmark the trained policy against the task's agents (the benchmark's code and seeds);
    returns the policy's result row, the reference's name and the gap to the cheapest other agent."""
    from agents.harness import evaluate
    from experiments.support.plots import plot_learning_curve
    from experiments.support.reporting import print_table, write_results

    settings = eval_settings(cfg.eval, "eval")
    with progress_bar(console) as progress:
        agents = build_agents(task, agent_names(task, cfg.benchmark.agents, "benchmark.agents"), cfg.tuning.reps, bool(cfg.smoke),
                              console, progress, "benchmark.agents")
        agents = {policy.name: policy, **agents}
        bar = progress.add_task("evaluating (agent x round)", total=None)
        evaluation = evaluate(task, agents, settings, progress=lambda name: progress.advance(bar))
    title = f"{policy.name}{' (shared)' if cfg.shared else ''} on {task.describe()}"
    print_table(evaluation, task, title, console)
    write_results(evaluation, task, out, title, command_line("experiments.train"))
    plot_learning_curve(out / "eval.csv", out / "learning_curve.png", evaluation.frame, evaluation.reference, title,
                        policy.name)
    pngs = ["cost_comparison.png", "learning_curve.png", *task_plots(task, out, agents, policy.name)]
    if wandb_run is not None:
        import wandb

        wandb_run.log({"benchmark/results": wandb.Table(dataframe=evaluation.frame)})
        for png in pngs:
            wandb_run.log({f"plots/{Path(png).stem}": wandb.Image(str(out / png))})
    row = evaluation.frame[evaluation.frame["agent"] == policy.name].iloc[0]
    return row, evaluation.reference, versus_best_other(evaluation.frame, evaluation.per_rep, policy.name,
                                                        evaluation.reference)


def versus_best_other(frame, per_rep: dict, trained: str, reference: str) -> str:
    """The trained policy's gap to the cheapest agent other than itself and the reference (the
    best tuned heuristic when the reference is an exact optimum), paired by replication with its
    95% CI; empty when there is no such agent."""
    from agents.harness import paired_gap

    others = frame[~frame["agent"].isin([trained, reference])]
    if others.empty:
        return ""
    best = str(others.loc[others["mean_cost"].idxmin(), "agent"])
    gap, ci = paired_gap(per_rep[trained]["cost"], per_rep[best]["cost"])
    return f"{gap:+.2f} ± {ci:.2f}% vs {best}, the cheapest other agent"


@checked_groups
@hydra.main(version_base="1.3", config_path="../configs", config_name="train.yaml")
@clean_errors
def main(cfg: DictConfig) -> float:
    from hydra.core.hydra_config import HydraConfig

    from agents.rl import training
    from agents.rl.callbacks import job_started

    job_started()  # cpu_seconds per job, also when a multirun runs several in this process
    if cfg.resume:
        cfg = resumed_config(cfg)
    else:
        apply_smoke(cfg)
    task = make_task(cfg)
    algo = algorithm(str(cfg.agent.name))
    if cfg.smoke and not cfg.resume:
        set_unless_given(cfg, smoke_training(cfg, task, algo))
    validate(cfg, task, algo)
    out = run_dir()
    if not cfg.resume:
        resolved = task.resolve_training()
        for key, value in resolved.items():
            OmegaConf.update(cfg, f"env.training.{key}", value, merge=True, force_add=True)
        task = task.with_training(resolved)
    session = training.start(cfg, task, algo, out)  # bad agent settings fail here, before any file
    if cfg.resume:
        record_resume(cfg, out)
    write_marker(out, "train", task.name, dict(HydraConfig.get().runtime.choices))
    save_resolved_config(cfg, out)
    console = make_console()
    unit = task.timestep_unit(bool(cfg.shared))
    console.print(f"[bold]training {algo.name}{' (shared over agents)' if cfg.shared else ''}[/bold] for "
                  f"{cfg.total_timesteps:,} {unit} on {task.describe()}")
    console.print(f"run dir {out}", soft_wrap=True)
    start = time.perf_counter()
    training.attach_loggers(session, cfg, out)
    try:
        training.train(cfg, task, algo, session, out, validation_settings(cfg))
        if session.interrupted:
            console.print(f"[yellow]interrupted at {session.model.num_timesteps:,} timesteps; checkpoint saved. "
                          f"Continue with: python -m experiments.train resume={out}[/yellow]")
            return float("nan")
        make_live = training.policy_maker(task, algo, bool(cfg.shared), bool(cfg.normalize.obs))
        policy = final_policy(cfg, out, session, make_live)
        row, reference, versus = report(cfg, task, out, policy, console, session.wandb_run)
    finally:
        session.model.logger.close()
        if session.wandb_run is not None:
            session.wandb_run.finish()
    best = session.evaluator.best
    console.print(f"done in {time.perf_counter() - start:.0f}s: {policy.name} mean cost "
                  f"{row.mean_cost:.{task.cost_decimals}f}/{task.cost_unit} ({row.gap_pct:+.2f}% vs {reference}"
                  f"{'; ' + versus if versus else ''}); best validation cost {best:.{task.cost_decimals}f}; "
                  f"results in {out}")
    return float(best)


if __name__ == "__main__":
    main()
