"""Training on the multi-SKU fulfilment centre (called by ``experiments.train``).

    python -m experiments.train env=fulfillment_center_marl agent=ppo_shared   # one shared policy
    python -m experiments.train env=fulfillment_center agent=ppo               # centralised

``agent.shared=true``: one policy controls every SKU (parameter sharing). The SKUs of
``n_envs`` fulfilment-centre copies are the sub-envs of one SB3 VecEnv
(``envs.replenishment.fulfillment_center.shared.SharedPolicyVecEnv``), so ``total_timesteps`` counts SKU-periods.
Otherwise a centralised agent acts on ``FulfillmentCenter-v0`` (MultiDiscrete or Box over
all SKUs) and ``total_timesteps`` counts periods.

The recipe is the lost-sales one: validate, train with periodic evaluation on
validation seeds (best model kept in ``best/``), atomic checkpoints and graceful stop,
then benchmark the trained policy against the tuned heuristics on the test seeds with
the benchmark's own code, and print the table.
"""

from __future__ import annotations

import copy
import logging
import sys
import time
from pathlib import Path

import numpy as np
from omegaconf import DictConfig, OmegaConf
from stable_baselines3.common.callbacks import BaseCallback

from agents.lost_sales.rollout import EVAL_SEED_BASE
from agents.rl import checkpoints
from agents.rl.algorithms import algorithm, normalize_obs
from agents.rl.callbacks import PeriodicCheckpoint, PeriodicEvaluation
from envs.core.config import ConfigError, check_choice, check_int
from envs.replenishment.fulfillment_center.config import FulfillmentConfig, Problem
from experiments.common import fc_config, run_dir, save_resolved_config

log = logging.getLogger(__name__)
FC_ID = "fulfillgym/FulfillmentCenter-v0"
VALID_SEED_BASE = 3_000_000
SUPPORTED = ("ppo", "a2c")


def train_overrides(cfg: DictConfig) -> dict:
    raw = cfg.env.get("train_overrides")
    return dict(OmegaConf.to_container(raw, resolve=True)) if raw else {}


def is_shared(cfg: DictConfig) -> bool:
    return bool(cfg.agent.get("shared", False))


def validate(cfg: DictConfig, config: FulfillmentConfig) -> None:
    check_int("total_timesteps", cfg.total_timesteps, 1)
    check_int("n_envs", cfg.n_envs, 1, 256)
    check_int("seed", cfg.seed, 0)
    check_int("torch_threads", cfg.torch_threads, 1, 256)
    check_int("eval.freq", cfg.eval.freq, 1)
    check_int("eval.reps", cfg.eval.reps, 1)
    check_int("benchmark.reps", cfg.benchmark.reps, 1)
    check_int("checkpoint.freq", cfg.checkpoint.freq, 1)
    check_int("checkpoint.keep", cfg.checkpoint.keep, 1)
    check_choice("benchmark.model", cfg.benchmark.model, ("best", "last"))
    from envs.replenishment.fulfillment_center.parallel_env import REWARD_MODES

    check_choice("env.reward", cfg.env.get("reward", "individual"), REWARD_MODES)
    if cfg.agent.name not in SUPPORTED:
        raise ConfigError(f"agent={cfg.agent.name}: the fulfilment centre trains on-policy agents only; "
                          f"accepted: {', '.join(SUPPORTED)} (ppo_shared for one policy over all SKUs)")
    if config.action_type == "order":
        raise ConfigError("env.action_type: expected discrete, continuous or level for training "
                          "(order is for heuristics)")
    from agents.fulfillment_center.heuristics import FC_HEURISTICS

    for name in cfg.benchmark.get("fc_agents", []):
        check_choice("benchmark.fc_agents", name, FC_HEURISTICS)


def build_vec_env(cfg: DictConfig, problem: Problem, checkpoint=None):
    from stable_baselines3.common.env_util import make_vec_env

    from experiments.train import normalized

    if is_shared(cfg):
        from envs.replenishment.fulfillment_center.shared import SharedPolicyVecEnv

        venv = SharedPolicyVecEnv(problem, n_copies=cfg.n_envs, seed=cfg.seed,
                                  reward=cfg.env.get("reward", "individual"))
    else:
        from envs.replenishment.fulfillment_center.env import FulfillmentCenterEnv

        venv = make_vec_env(lambda: FulfillmentCenterEnv(problem=problem), n_envs=cfg.n_envs, seed=cfg.seed)
    return normalized(cfg, venv, checkpoint)


class CentralisedPolicy:
    """A centralised SB3 model on the flat observation, with VecNormalize statistics."""

    def __init__(self, model, obs_rms=None, clip_obs: float = 10.0, epsilon: float = 1e-8, name: str = "ppo"):
        self.model, self.obs_rms, self.clip_obs, self.epsilon, self.name = model, obs_rms, clip_obs, epsilon, name

    def predict(self, observation, state=None, episode_start=None, deterministic=True):
        obs = normalize_obs(np.asarray(observation, dtype=np.float32), self.obs_rms, self.clip_obs, self.epsilon)
        return self.model.predict(obs, deterministic=deterministic)

    def params(self) -> dict:
        return {"centralised": True}


def make_policy(model, venv, problem: Problem, shared: bool, normalized: bool, name: str):
    """The trained model as a benchmark policy on the centralised env."""
    from envs.replenishment.fulfillment_center.shared import SharedPolicy

    rms = copy.deepcopy(getattr(venv, "obs_rms", None)) if normalized else None
    clip = getattr(venv, "clip_obs", 10.0)
    if shared:
        return SharedPolicy(model, problem, rms, clip, name=name)
    return CentralisedPolicy(model, rms, clip, name=name)


def load_policy(run_dir: Path | str, problem: Problem):
    """Load a trained run's policy (``best/`` if present, else the newest checkpoint) for
    ``problem`` (the benchmark's env: the catalogue must have the run's number of SKUs
    for a centralised model; a shared model works for any N)."""
    run_dir = Path(run_dir)
    saved = run_dir / "config.yaml"
    if not saved.exists():
        raise ConfigError(f"models: {saved} not found; expected a run directory of experiments.train")
    cfg = OmegaConf.load(saved)
    if cfg.env.get("id") != FC_ID:
        raise ConfigError(f"models: {run_dir} was trained on {cfg.env.get('id')}, not {FC_ID}")
    best = run_dir / "best"
    ckpt = (checkpoints.Checkpoint(best, -1, {}) if (best / "model.zip").exists()
            else checkpoints.latest(run_dir))
    model = checkpoints.load_model(algorithm(cfg.agent.name).load_class(), ckpt, device="cpu")
    shared = bool(cfg.agent.get("shared", False))
    trained = fc_config(cfg.env)
    problem = Problem(problem.config.replace(action_type=trained.action_type,
                                             order_multiples=trained.order_multiples,
                                             level_multiples=trained.level_multiples,
                                             level_basis=trained.level_basis,
                                             max_multiple=trained.max_multiple), problem.catalogue)
    from agents.fulfillment_center.rollout import env_for

    if not shared and model.observation_space.shape != env_for(problem).observation_space.shape:
        raise ConfigError(f"models: {run_dir} is a centralised model of another catalogue size; "
                          f"it expects observations of shape {model.observation_space.shape}")
    venv = None
    if ckpt.vecnormalize is not None:
        import pickle

        with open(ckpt.vecnormalize, "rb") as fh:
            venv = pickle.load(fh)
    name = f"{cfg.agent.name}{'_shared' if shared else ''}:{run_dir.name}"
    policy = make_policy(model, venv, problem, shared, venv is not None and venv.norm_obs, name)
    policy.action_type = trained.action_type
    return policy


class ClassKPIs(BaseCallback):
    """Logs the shared-policy training episodes' fill rate and cost by popularity class."""

    def _on_step(self) -> bool:
        for info in self.locals.get("infos", ()):
            for key, value in info.get("episode_kpis", {}).items():
                self.logger.record_mean(f"train/{key}", value)
        return True


def fc_score(problem: Problem, seeds, warmup: int):
    from agents.fulfillment_center.rollout import ci95, run_episodes

    def score(policy) -> dict:
        r = run_episodes(problem, policy, seeds, warmup)
        row = {"mean_cost": float(r["cost"].mean()), "ci95": ci95(r["cost"])}
        for key in ("fill_rate", "fill_rate_A", "fill_rate_B", "fill_rate_C", "overflow_units",
                    "capacity_utilisation", "holding_cost", "shortage_cost", "overflow_cost"):
            if key in r:
                row[key] = float(r[key].mean())
        return row

    return score


def main_fc(cfg: DictConfig) -> float:
    """``experiments.train`` for the fulfilment centre (``cfg`` already resolved for resume)."""
    config = fc_config(cfg.env)
    validate(cfg, config)
    out = run_dir()
    if not cfg.resume and checkpoints.list_checkpoints(out):
        raise ConfigError(f"hydra.run.dir: {out} already holds a training run; continue it with "
                          f"resume={out} or choose a new directory")
    problem = config.build()
    # training never sees the test data: a CSV's test window is cut off (training_split)
    train_problem = problem.training_split()
    if overrides := train_overrides(cfg):
        train_problem = Problem(train_problem.config.replace(**overrides), train_problem.catalogue)
    save_resolved_config(cfg, out)
    from experiments.reporting import make_console

    console = make_console()
    shared = is_shared(cfg)
    unit = "SKU-periods" if shared else "periods"
    console.print(f"[bold]training {cfg.agent.name}{' (shared over SKUs)' if shared else ''}[/bold] on "
                  f"{problem.n} SKUs for {cfg.total_timesteps:,} {unit}; run dir {out}")
    start = time.perf_counter()
    model, venv, evaluator, wandb_run, interrupted = train(cfg, problem, train_problem, out, shared)
    try:
        if interrupted:
            console.print(f"[yellow]interrupted at {model.num_timesteps:,} timesteps; checkpoint saved. "
                          f"Continue with: python -m experiments.train resume={out}[/yellow]")
            return float("nan")
        policy = final_policy(cfg, problem, out, model, venv, shared)
        frame = report(cfg, problem, out, policy, console, wandb_run)
    finally:
        model.logger.close()
        if wandb_run is not None:
            wandb_run.finish()
    trained = frame[frame["agent"] == policy.name].iloc[0]
    console.print(f"done in {time.perf_counter() - start:.0f}s: {policy.name} mean cost "
                  f"{trained.mean_cost:.2f}/period ({trained.gap_pct:+.2f}% vs {trained.reference}); "
                  f"best validation cost {evaluator.best:.2f}; results in {out}")
    return float(evaluator.best)


def train(cfg: DictConfig, problem: Problem, train_problem: Problem, out: Path, shared: bool):
    from experiments.train import learn, start_training

    model, venv, wandb_run, checkpoint = start_training(cfg, out, lambda ckpt: build_vec_env(cfg, train_problem, ckpt))
    meta = {"agent": cfg.agent.name, "env_id": FC_ID, "seed": cfg.seed, "shared": shared}
    seeds = np.arange(VALID_SEED_BASE, VALID_SEED_BASE + cfg.eval.reps)
    normalized = bool(cfg.normalize.obs)

    def policy_of(m, v):
        return make_policy(m, v, problem, shared, normalized, cfg.agent.name)

    # validation (model selection for best/) never looks at the test data either: with a
    # CSV's fixed test window it uses windows of the history before it
    evaluator = PeriodicEvaluation(policy_of, fc_score(problem.training_split(), seeds, cfg.eval.get("fc_warmup", 0)),
                                   cfg.eval.freq, out, meta)
    checkpointer = PeriodicCheckpoint(out, cfg.checkpoint.freq, cfg.checkpoint.keep, meta)
    interrupted = learn(cfg, model, evaluator, checkpointer, resumed=checkpoint is not None, extra=[ClassKPIs()])
    return model, venv, evaluator, wandb_run, interrupted


def final_policy(cfg: DictConfig, problem: Problem, out: Path, model, venv, shared: bool):
    best = out / "best"
    normalized = bool(cfg.normalize.obs)
    if cfg.benchmark.model == "best" and (best / "model.zip").exists():
        ckpt = checkpoints.Checkpoint(best, -1, {})
        best_model = checkpoints.load_model(algorithm(cfg.agent.name).load_class(), ckpt, device="cpu")
        best_venv = checkpoints.load_vecnormalize(ckpt, venv) if ckpt.vecnormalize else venv
        return make_policy(best_model, best_venv, problem, shared, normalized, cfg.agent.name)
    return make_policy(model, venv, problem, shared, normalized, cfg.agent.name)


def report(cfg: DictConfig, problem: Problem, out: Path, policy, console, wandb_run):
    """Benchmark the trained policy against the tuned heuristics (same code as the benchmark)."""
    from experiments.fc_benchmark import evaluate_agents, print_fc_table, write_fc_results

    names = list(cfg.benchmark.get("fc_agents", ["base_stock", "s_S", "capacity_base_stock"]))
    seeds = [EVAL_SEED_BASE + r for r in range(cfg.benchmark.reps)]
    frame = evaluate_agents(problem, names, {policy.name: policy}, seeds, cfg.eval.get("fc_warmup", 0), console)
    title = f"{policy.name} on FulfillmentCenter-v0 ({problem.n} SKUs)"
    print_fc_table(frame, title, console)
    write_fc_results(frame, out, title, "python -m experiments.train " + " ".join(sys.argv[1:]))
    if (out / "eval.csv").exists():
        from experiments.plots import plot_learning_curve

        plot_learning_curve(out / "eval.csv", out / "learning_curve.png", frame, title)
    if wandb_run is not None:
        import wandb

        wandb_run.log({"benchmark/results": wandb.Table(dataframe=frame)})
    return frame

