"""Train a stable-baselines3 agent on a FulfillGym env and benchmark it.

    python -m experiments.train                                   # PPO on lost sales
    python -m experiments.train agent=dqn total_timesteps=200000 seed=1
    python -m experiments.train experiment=lost_sales_ppo_L4_p39
    python -m experiments.train logger=wandb                      # offline wandb run
    python -m experiments.train resume=outputs/train/<run>        # continue a run
    python -m experiments.train -m seed=0,1,2 hydra/launcher=joblib

The recipe: validate the config, build the vectorised training env (with VecNormalize),
train with periodic evaluation on validation seeds and atomic checkpoints, then
evaluate the trained policy against the exact optimum and the tuned heuristics on the
benchmark's test seeds with the benchmark's own code. Returns the best validation
mean cost per period, the metric Hydra sweepers minimise.
"""

from __future__ import annotations

import copy
import logging
import sys
import time
from pathlib import Path

import gymnasium as gym
import hydra
import numpy as np
from omegaconf import DictConfig, OmegaConf
from rich.console import Console

import envs  # noqa: F401  (registers the Gymnasium ids)
from agents.lost_sales.rollout import Scenario
from agents.rl import checkpoints
from agents.rl.algorithms import SB3Policy, algorithm, check_compatible
from agents.rl.callbacks import (
    GracefulStop,
    PeriodicCheckpoint,
    PeriodicEvaluation,
    TrainingKPIs,
    lost_sales_score,
)
from envs.core.config import ConfigError, check_choice, check_int
from envs.replenishment.lost_sales.config import LostSalesConfig
from envs.replenishment.lost_sales.wrappers import (
    PARAMETERISATIONS,
    OrderMask,
    OrderUpTo,
    level_max_default,
)
from experiments.common import (
    clean_errors,
    env_kwargs,
    lost_sales_config,
    run_dir,
    save_resolved_config,
)

log = logging.getLogger(__name__)
VALID_SEED_BASE = 3_000_000  # periodic evaluation; the final benchmark uses EVAL_SEED_BASE


def validate(cfg: DictConfig, config: LostSalesConfig) -> None:
    check_int("total_timesteps", cfg.total_timesteps, 1)
    check_int("n_envs", cfg.n_envs, 1, 256)
    check_int("seed", cfg.seed, 0)
    check_int("torch_threads", cfg.torch_threads, 1, 256)
    check_choice("parameterisation", cfg.parameterisation, PARAMETERISATIONS)
    check_choice("benchmark.model", cfg.benchmark.model, ("best", "last"))
    check_int("eval.freq", cfg.eval.freq, 1)
    check_int("checkpoint.freq", cfg.checkpoint.freq, 1)
    check_int("checkpoint.keep", cfg.checkpoint.keep, 1)
    # evaluation and benchmark settings are only used after training: check them now
    for section in ("eval", "benchmark"):
        check_int(f"{section}.reps", cfg[section].reps, 1)
        check_int(f"{section}.periods", cfg[section].periods, 1)
        check_int(f"{section}.warmup", cfg[section].warmup, 0)
    check_int("benchmark.max_reps", cfg.benchmark.max_reps, 1)
    from agents.lost_sales.agents import agent_names

    for name in cfg.benchmark.agents:
        check_choice("benchmark.agents", name, agent_names())
    check_compatible(cfg.agent.name, config.action_type)
    if algorithm(cfg.agent.name).maskable and cfg.parameterisation != "order":
        raise ConfigError("agent=maskable_ppo masks raw orders: set parameterisation=order")


def level_max(cfg: DictConfig, config: LostSalesConfig) -> int:
    return int(cfg.level_max) if cfg.level_max else level_max_default(config)


def level_min(cfg: DictConfig) -> int:
    return int(cfg.level_min or 0)


def resolve_levels(cfg: DictConfig, config: LostSalesConfig) -> None:
    """Fix the order-up-to level range in ``cfg`` before it is saved, so the run directory
    records the concrete levels (``levels_around_base_stock=w`` means the tuned
    base-stock level S* +- w, tuned by simulation on the tuning seeds)."""
    width = cfg.levels_around_base_stock
    if cfg.parameterisation != "order_up_to" or width is None:
        return
    from agents.lost_sales.heuristics import tune

    check_int("levels_around_base_stock", width, 1, 1000)
    level = int(tune("base_stock", config).params()["level"])
    top = level + width
    if config.fixed_order_cost == 0:  # Morton: an optimal policy never orders above it
        top = min(top, max(level_max_default(config), level + 1))
    cfg.level_min, cfg.level_max = max(level - width, 0), top
    log.info("order-up-to levels %d..%d around the tuned base-stock level %d", cfg.level_min, cfg.level_max, level)


def make_env_fn(cfg: DictConfig, config: LostSalesConfig):
    """A factory of training envs: train_env overrides, action parameterisation, Monitor."""
    from stable_baselines3.common.monitor import Monitor

    kwargs = {**env_kwargs(cfg.env), "initial_state": cfg.train_env.initial_state}
    levels = level_max(cfg, config)

    def make():
        env = gym.make(cfg.env.id, max_episode_steps=cfg.train_env.max_episode_steps, **kwargs)
        if cfg.parameterisation == "order_up_to":
            env = OrderUpTo(env, levels, level_min(cfg))
        elif algorithm(cfg.agent.name).maskable:
            env = OrderMask(env, levels)
        return Monitor(env)

    return make


def build_vec_env(cfg: DictConfig, config: LostSalesConfig, checkpoint=None):
    from stable_baselines3.common.env_util import make_vec_env

    return normalized(cfg, make_vec_env(make_env_fn(cfg, config), n_envs=cfg.n_envs, seed=cfg.seed), checkpoint)


def normalized(cfg: DictConfig, venv, checkpoint=None):
    """``venv`` wrapped in VecNormalize as ``cfg.normalize`` says (statistics restored from
    ``checkpoint`` when resuming)."""
    from stable_baselines3.common.vec_env import VecNormalize

    if checkpoint is not None and checkpoint.vecnormalize is not None:
        return checkpoints.load_vecnormalize(checkpoint, venv)
    if cfg.normalize.obs or cfg.normalize.reward:
        return VecNormalize(venv, norm_obs=cfg.normalize.obs, norm_reward=cfg.normalize.reward,
                            clip_obs=cfg.normalize.clip_obs, clip_reward=cfg.normalize.clip_reward,
                            gamma=cfg.agent.kwargs.get("gamma", 0.99))
    return venv


def policy_factory(cfg: DictConfig, config: LostSalesConfig, name: str):
    """Build an SB3Policy from a model and its (possibly normalising) training VecEnv."""
    levels = level_max(cfg, config)

    def make(model, venv):
        rms = getattr(venv, "obs_rms", None) if cfg.normalize.obs else None
        clip = getattr(venv, "clip_obs", 10.0)
        return SB3Policy(model, config, cfg.parameterisation, levels, copy.deepcopy(rms), clip, name=name,
                         masked=algorithm(cfg.agent.name).maskable, level_min=level_min(cfg))

    return make


def resumed_config(cfg: DictConfig) -> DictConfig:
    """The resumed run's saved config, with this command's plain ``key=value`` overrides."""
    import yaml
    from hydra.core.hydra_config import HydraConfig

    saved = Path(cfg.resume) / "config.yaml"
    if not saved.exists():
        raise ConfigError(f"resume: {saved} not found; resume expects a run directory of experiments.train")
    base = OmegaConf.load(saved)
    for item in HydraConfig.get().overrides.task:
        key, _, value = item.partition("=")
        if key == "resume" or "/" in key or key.startswith(("hydra", "+", "~")):
            continue
        if OmegaConf.select(base, key, default="__missing__") == "__missing__":
            log.warning("resume: ignoring override %s (config groups come from the saved run)", item)
            continue
        OmegaConf.update(base, key, yaml.safe_load(value), merge=True)
    base.resume = cfg.resume
    return base


def build_model(cfg: DictConfig, venv, out: Path, checkpoint=None):
    algo = algorithm(cfg.agent.name)
    cls = algo.load_class()
    if checkpoint is not None:
        model = checkpoints.load_model(cls, checkpoint, env=venv, device="cpu")
        if algo.off_policy and checkpoint.replay_buffer is not None:
            model.load_replay_buffer(checkpoint.replay_buffer)
        return model
    kwargs = OmegaConf.to_container(cfg.agent.kwargs, resolve=True) or {}
    policy_kwargs = OmegaConf.to_container(cfg.agent.policy_kwargs, resolve=True) or {}
    try:
        return cls(cfg.agent.policy, venv, seed=cfg.seed, device="cpu", verbose=0,
                   policy_kwargs=policy_kwargs, **kwargs)
    except TypeError as err:
        raise ConfigError(f"agent.kwargs: {err}") from err


def train(cfg: DictConfig, config: LostSalesConfig, out: Path):
    """Train to ``cfg.total_timesteps`` (from the newest checkpoint when resuming)."""

    model, venv, wandb_run, checkpoint = start_training(cfg, out, lambda ckpt: build_vec_env(cfg, config, ckpt))
    meta = {"agent": cfg.agent.name, "env_id": cfg.env.id, "seed": cfg.seed}
    seeds = np.arange(VALID_SEED_BASE, VALID_SEED_BASE + cfg.eval.reps)
    scenario = Scenario.from_seeds(config, seeds, cfg.eval.warmup + cfg.eval.periods)
    score = lost_sales_score(config, scenario, cfg.eval.warmup, optimal_cost_or_none(config))
    evaluator = PeriodicEvaluation(policy_factory(cfg, config, cfg.agent.name), score, cfg.eval.freq, out, meta)
    interrupted = learn(cfg, model, evaluator, PeriodicCheckpoint(out, cfg.checkpoint.freq, cfg.checkpoint.keep, meta),
                        resumed=checkpoint is not None)
    return model, venv, evaluator, wandb_run, interrupted


def start_training(cfg: DictConfig, out: Path, make_venv):
    """Threads and seeds, the (normalising) VecEnv ``make_venv(checkpoint)``, the model (new,
    or the newest checkpoint's when resuming) and its loggers (TensorBoard/CSV, wandb).
    Returns ``(model, venv, wandb_run, checkpoint)``."""
    import torch
    from stable_baselines3.common.utils import set_random_seed

    from experiments.tracking import make_logger, start_wandb

    checkpoint = checkpoints.latest(out) if cfg.resume else None
    torch.set_num_threads(int(cfg.torch_threads))
    set_random_seed(cfg.seed)
    venv = make_venv(checkpoint)
    model = build_model(cfg, venv, out, checkpoint)
    wandb_run = None
    if cfg.logger.wandb:
        resolved = OmegaConf.to_container(cfg, resolve=True)
        wandb_run = start_wandb(OmegaConf.to_container(cfg.logger.wandb), out, resolved, out.name)
    model.set_logger(make_logger(out, cfg.logger, wandb_run))
    return model, venv, wandb_run, checkpoint


def learn(cfg: DictConfig, model, evaluator, checkpointer, resumed: bool, extra=()) -> bool:
    """Train up to ``cfg.total_timesteps`` with KPI logging, periodic evaluation,
    checkpoints and graceful stop; returns whether a signal interrupted the run."""
    from stable_baselines3.common.callbacks import CallbackList, ProgressBarCallback

    stopper = GracefulStop(checkpointer)
    callbacks = [TrainingKPIs(), *extra, evaluator, checkpointer, stopper]
    if cfg.progress_bar:
        callbacks.append(ProgressBarCallback())
    remaining = cfg.total_timesteps - model.num_timesteps
    if remaining > 0:
        model.learn(remaining, callback=CallbackList(callbacks), reset_num_timesteps=not resumed)
    interrupted = stopper.signal is not None
    if not interrupted and remaining > 0:
        if evaluator.last_timesteps != model.num_timesteps:  # the final policy is always
            evaluator.evaluate()  # evaluated (once) and eligible as best
        checkpointer.save()
    return interrupted


def optimal_cost_or_none(config: LostSalesConfig) -> float | None:
    from agents.lost_sales.agents import optimal_unavailable

    if optimal_unavailable(config):
        return None
    from agents.lost_sales.optimal import solve

    return solve(config).average_cost


def final_policy(cfg: DictConfig, config: LostSalesConfig, out: Path, model, venv):
    """The policy benchmarked at the end: the best on validation seeds, or the last."""
    make = policy_factory(cfg, config, cfg.agent.name)
    best = out / "best"
    if cfg.benchmark.model == "best" and (best / "model.zip").exists():
        ckpt = checkpoints.Checkpoint(best, -1, {})
        best_model = checkpoints.load_model(algorithm(cfg.agent.name).load_class(), ckpt, device="cpu")
        best_venv = checkpoints.load_vecnormalize(ckpt, venv) if ckpt.vecnormalize else venv
        return make(best_model, best_venv)
    return make(model, venv)


def report(cfg: DictConfig, config: LostSalesConfig, out: Path, policy, console: Console, wandb_run):
    """Benchmark the trained policy against the optimum and the tuned heuristics."""
    from experiments.benchmark import benchmark, build_agents, describe, progress_bar
    from experiments.plots import plot_learning_curve, plot_policy_map
    from experiments.reporting import print_table, write_results

    with progress_bar(console) as progress:
        agents = build_agents(list(cfg.benchmark.agents), config, console, progress)
        agents = {cfg.agent.name: policy, **agents}
        frame = benchmark(config, agents, cfg.benchmark, progress)
    title = f"{cfg.agent.name} on {describe(config)}"
    print_table(frame, title, console)
    write_results(frame, out, title, "python -m experiments.train " + " ".join(sys.argv[1:]))
    plot_learning_curve(out / "eval.csv", out / "learning_curve.png", frame, title)
    plot_policy_map(config, agents, out / "policy_map.png", cfg.agent.name)
    if wandb_run is not None:
        import wandb

        wandb_run.log({"benchmark/results": wandb.Table(dataframe=frame)})
        for png in ("cost_comparison", "learning_curve", "policy_map"):
            wandb_run.log({f"plots/{png}": wandb.Image(str(out / f"{png}.png"))})
    return frame


@hydra.main(version_base="1.3", config_path="../configs", config_name="train.yaml")
@clean_errors
def main(cfg: DictConfig) -> float:
    if cfg.resume:
        cfg = resumed_config(cfg)
    if cfg.env.id == "fulfillgym/FulfillmentCenter-v0":
        from experiments.train_fc import main_fc

        return main_fc(cfg)
    config = lost_sales_config(cfg.env)
    validate(cfg, config)
    if not cfg.resume:
        resolve_levels(cfg, config)
    out = run_dir()
    if not cfg.resume and checkpoints.list_checkpoints(out):
        raise ConfigError(f"hydra.run.dir: {out} already holds a training run; continue it with "
                          f"resume={out} or choose a new directory")
    save_resolved_config(cfg, out)
    from experiments.reporting import make_console

    console = make_console()
    console.print(f"[bold]training {cfg.agent.name}[/bold] for {cfg.total_timesteps:,} timesteps; run dir {out}")
    start = time.perf_counter()
    model, venv, evaluator, wandb_run, interrupted = train(cfg, config, out)
    try:
        if interrupted:
            console.print(f"[yellow]interrupted at {model.num_timesteps:,} timesteps; checkpoint saved. "
                          f"Continue with: python -m experiments.train resume={out}[/yellow]")
            return float("nan")
        frame = report(cfg, config, out, final_policy(cfg, config, out, model, venv), console, wandb_run)
    finally:
        model.logger.close()
        if wandb_run is not None:
            wandb_run.finish()
    trained = frame[frame["agent"] == cfg.agent.name].iloc[0]
    console.print(f"done in {time.perf_counter() - start:.0f}s: {cfg.agent.name} mean cost "
                  f"{trained.mean_cost:.4f} ({trained.gap_pct:+.2f}% vs {trained.reference}); "
                  f"best validation cost {evaluator.best:.4f}; results in {out}")
    return float(evaluator.best)


if __name__ == "__main__":
    main()
