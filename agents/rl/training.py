"""The training loop shared by every task: model, VecEnv, loggers, validation, checkpoints.

``experiments.train`` is the recipe; this module holds its SB3 parts. A run trains to
exactly ``total_timesteps`` (``StopAtBudget``), validates the current policy every
``validation.freq`` timesteps on the validation seeds with the task's validation rollout
(the best model is kept in ``best/``), checkpoints atomically every ``checkpoint.freq``
timesteps and on SIGINT / SIGTERM, and resumes from the newest checkpoint.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from omegaconf import DictConfig, OmegaConf

from agents.harness import EvalSettings, ci95
from agents.parts import dcl_problem
from agents.rl import checkpoints
from agents.rl.adapter import ObsNormalizer, SB3Policy
from agents.rl.algorithms import Algorithm
from agents.rl.callbacks import (
    GracefulStop,
    PeriodicCheckpoint,
    PeriodicEvaluation,
    StopAtBudget,
    TrainingKPIs,
)
from agents.rl.loading import build_model
from agents.rl.vec_env import base_venv, normalized
from agents.task import Task

log = logging.getLogger(__name__)


@dataclass
class Session:
    """A model being trained, with its VecEnv, loggers and the checkpoint it resumed from."""

    model: Any
    venv: Any
    wandb_run: Any
    checkpoint: checkpoints.Checkpoint | None
    evaluator: PeriodicEvaluation | None = None
    interrupted: bool = False


def policy_maker(task: Task, algo: Algorithm, shared: bool, normalise_obs: bool):
    """``make(model, venv)``: the model's current policy on the task's evaluation env, with a
    copy of the VecEnv's current observation statistics."""
    interface = task.model_interface(shared, maskable=algo.maskable)

    def make(model, venv) -> SB3Policy:
        normalizer = ObsNormalizer.from_vec_env(venv) if normalise_obs else None
        return SB3Policy(model.policy, interface, normalizer, name=algo.name)

    return make


def validation_score(task: Task, settings: EvalSettings):
    """``score(policy)``: mean cost (and CI) on the fixed validation replications, the KPIs,
    and the gap to the task's reference cost when it knows one (e.g. the exact optimum)."""
    seeds = np.arange(settings.seed_base, settings.seed_base + settings.reps)
    reference = task.reference_cost()

    def score(policy) -> dict[str, float]:
        kpis = task.validation_rollout(policy, seeds, settings.periods, settings.warmup)
        cost = kpis["cost"]
        row = {"mean_cost": float(cost.mean()), "ci95": ci95(cost)}
        row.update({k: float(np.mean(v)) for k, v in kpis.items() if k != "cost"})
        if reference:
            row["gap_to_reference_pct"] = 100 * (row["mean_cost"] / reference - 1)
        return row

    return score


def start(cfg: DictConfig, task: Task, algo: Algorithm, out: Path) -> Session:
    """Threads and seeds, the normalising VecEnv and the model: built from ``cfg``, and when
    resuming loaded with the newest checkpoint's state (``checkpoints.restore``: tensors, JSON
    and arrays, nothing unpickled). Nothing is written yet, so bad agent settings and refused
    checkpoints fail before the run directory is touched."""
    import torch
    from stable_baselines3.common.utils import set_random_seed

    checkpoint = checkpoints.latest(out) if cfg.resume else None
    if checkpoint is not None:
        normalises = bool(cfg.normalize.obs or cfg.normalize.reward)
        for missing in checkpoints.check_resumable(checkpoint, normalises, algo.off_policy, cfg.resume_allow_missing):
            log.warning("resume: %s lacks %s; continuing with it fresh (resume_allow_missing=true)", checkpoint.path,
                        missing)
    torch.set_num_threads(int(cfg.torch_threads))
    set_random_seed(int(cfg.seed))
    maskable = algo.maskable and not cfg.shared
    gamma = float(OmegaConf.select(cfg, "agent.kwargs.gamma", default=0.99))
    vec_env = str(OmegaConf.select(cfg, "vec_env", default="dummy"))  # runs saved before the switch: dummy
    venv = normalized(base_venv(task, int(cfg.n_envs), int(cfg.seed), bool(cfg.shared), maskable, vec_env),
                      cfg.normalize, gamma, checkpoint)
    model = build_model(cfg, algo, venv, seed=int(cfg.seed))
    if checkpoint is not None:
        checkpoints.restore(model, checkpoint)
    if algo.needs_problem:  # DCL: rollouts on the task's simulator (not saved with the model)
        problem = OmegaConf.to_container(cfg.agent.get("problem") or {}, resolve=True)
        model.attach(dcl_problem(task, **{k: v for k, v in problem.items() if v is not None}))  # null: the task's default
    return Session(model, venv, None, checkpoint)


def attach_loggers(session: Session, cfg: DictConfig, out: Path) -> None:
    """TensorBoard / CSV in the run directory, and the (offline by default) wandb run."""
    from agents.rl.tracking import make_logger, start_wandb

    if cfg.logger.get("wandb"):
        resolved = OmegaConf.to_container(cfg, resolve=True)
        session.wandb_run = start_wandb(OmegaConf.to_container(cfg.logger.wandb), out, resolved, out.name)
    session.model.set_logger(make_logger(out, cfg.logger, session.wandb_run))


def train(cfg: DictConfig, task: Task, algo: Algorithm, session: Session, out: Path,
          validation: EvalSettings) -> Session:
    """Train ``session.model`` up to ``cfg.total_timesteps`` with KPI logging, validation,
    checkpoints and graceful stop; the final policy is always validated once."""
    from stable_baselines3.common.callbacks import CallbackList, ProgressBarCallback

    model = session.model
    meta = {"agent": algo.name, "task": task.name, "seed": int(cfg.seed), "shared": bool(cfg.shared)}
    previous = float(session.checkpoint.meta.get("wall_seconds", 0.0)) if session.checkpoint else 0.0
    evaluator = PeriodicEvaluation(policy_maker(task, algo, bool(cfg.shared), bool(cfg.normalize.obs)),
                                   validation_score(task, validation), int(cfg.validation.freq), out, meta,
                                   previous)
    previous_cpu = float(session.checkpoint.meta.get("cpu_seconds", 0.0)) if session.checkpoint else 0.0
    checkpointer = PeriodicCheckpoint(out, int(cfg.checkpoint.freq), int(cfg.checkpoint.keep), meta, previous,
                                      previous_cpu)
    stopper = GracefulStop(checkpointer)
    callbacks = [TrainingKPIs(), evaluator, checkpointer, stopper, StopAtBudget(cfg.total_timesteps)]
    if cfg.progress_bar:
        callbacks.append(ProgressBarCallback())
    session.evaluator = evaluator
    remaining = int(cfg.total_timesteps) - model.num_timesteps
    if remaining > 0:
        model.learn(remaining, callback=CallbackList(callbacks), reset_num_timesteps=session.checkpoint is None)
    session.interrupted = stopper.signal is not None
    if not session.interrupted and remaining > 0:
        if evaluator.last_timesteps != model.num_timesteps:  # the final policy is always
            evaluator.evaluate()  # validated (once) and eligible as best
        checkpointer.save()
    return session
