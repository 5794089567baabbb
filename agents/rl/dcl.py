"""Deep Controlled Learning (DCL): approximate policy iteration with common-random-number rollouts.

DCL (Temizöz, Imdahl, Dijkman, Lamghari-Idrissi and van Jaarsveld, "Deep Controlled Learning
for Inventory Control", EJOR 2025; arXiv 2011.15122) repeats, one *generation* at a time:

1. **sample states** by running the current policy (generation 0: the task's tuned
   heuristic) from the task's start state, after a burn-in;
2. **score every candidate action** in each sampled state: take the action, then follow the
   current policy for ``horizon`` periods, over ``reps`` demand paths that are the same for
   every action of a state (common random numbers), so the differences between actions are
   estimated far more precisely than their levels;
3. **train a classifier** (the policy network) to predict the cheapest action of each state
   (cross-entropy), warm-started from the previous generation;
4. the classifier is the next generation's policy.

This implementation is an SB3 ``BaseAlgorithm`` whose policy is SB3's ``ActorCriticPolicy``
(its actor head gives the class logits; the value head is unused), so everything the
pipeline does with an SB3 model works unchanged: ``experiments.train agent=dcl``, atomic
checkpoints and pickle-free resume (weights and Adam's moments as tensors, ``generation`` in
``meta.json``: :attr:`DCL.resume_counters`), validation and ``best/``, TensorBoard / wandb logging, the safe
loader, ONNX / TorchScript export with parity checks, and the benchmark harness.

What is task specific (states, rollouts on the batched simulator, the start policy) is a
*problem* the task gives through ``agents.parts.dcl_problem(task, **options)``, attached to the model with
:meth:`DCL.attach` (``agents.rl.training`` does it); the protocol is :class:`Problem`. Lost
sales (``agents.lost_sales.dcl``) trains one central policy; the fulfilment centre
(``agents.fulfillment_center.dcl``) one per-SKU classifier shared by every SKU
(``shared=true``, ``Task.dcl_shared``), whose labelled states are (centre state, SKU) pairs.

Timesteps are **labelled states**: a generation of ``n_states`` states advances
``num_timesteps`` by ``n_states``, so ``total_timesteps = generations * n_states``. Callbacks
(validation, checkpoints, signals, the progress bar) run after each generation, in steps of
the VecEnv's width; the VecEnv itself is never stepped. Observation normalisation: when the
training VecEnv is a ``VecNormalize`` with ``norm_obs``, its statistics are set once from the
first generation's sampled observations (they are saved with every checkpoint, and the
exported graph applies them, as for PPO).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, Protocol

import numpy as np
import torch as th
from gymnasium import spaces
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.policies import ActorCriticPolicy
from torch.nn import functional as F

from agents.rl.adapter import ObsNormalizer
from envs.core.config import ConfigError, check_int

Act = Callable[[np.ndarray], np.ndarray]
"""The current policy as a batch function: raw observations (rows) -> model action indices."""


class Problem(Protocol):
    """What a task gives DCL (``agents.parts.dcl_problem``); ``act`` None means the start policy."""

    n_actions: int

    def sample(self, act: Act | None, n: int, rng: np.random.Generator) -> Any:
        """``n`` states visited by ``act`` (after the problem's burn-in)."""

    def observe(self, states: Any) -> np.ndarray:
        """The raw observations (n, obs_dim) of ``states``, as the training env gives them."""

    def score(self, states: Any, act: Act | None, horizon: int, reps: int, rng: np.random.Generator) -> np.ndarray:
        """Mean cost (n, n_actions) of each first action followed by ``act`` for ``horizon``
        periods, over ``reps`` paths shared by every action of a state. With ``act`` None a
        problem whose start policy cannot be rolled out action by action may instead return
        any (n, n_actions) matrix whose row minimum is the start policy's action (generation 0
        then imitates it; the fulfilment centre does this)."""


class DCL(BaseAlgorithm):
    """Deep Controlled Learning (module docstring). Arguments (``agent.kwargs``):

    * ``n_states``: states sampled and labelled per generation (the timestep unit);
    * ``horizon``: periods of each rollout, the first one with the candidate action;
    * ``reps``: rollouts per (state, action), common to every action of a state;
    * ``n_epochs``, ``batch_size``, ``learning_rate``: the classifier's training per generation;
    * ``max_grad_norm``: gradient clipping of the classifier.
    """

    policy_aliases = {"MlpPolicy": ActorCriticPolicy}
    resume_counters = ("generation",)  # saved in a checkpoint's meta.json (agents.rl.checkpoints)

    def __init__(self, policy, env, learning_rate: float = 1e-3, n_states: int = 4096, horizon: int = 40,
                 reps: int = 32, n_epochs: int = 20, batch_size: int = 256, max_grad_norm: float = 1.0,
                 policy_kwargs: dict | None = None, tensorboard_log: str | None = None, verbose: int = 0,
                 seed: int | None = None, device: str = "cpu", _init_setup_model: bool = True):
        super().__init__(policy, env, learning_rate, policy_kwargs=policy_kwargs, tensorboard_log=tensorboard_log,
                         verbose=verbose, device=device, support_multi_env=True, seed=seed,
                         supported_action_spaces=(spaces.Discrete,))
        for name, value, low in (("n_states", n_states, 1), ("horizon", horizon, 1), ("reps", reps, 1),
                                 ("n_epochs", n_epochs, 0), ("batch_size", batch_size, 1)):
            if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < low:
                raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
        if not (isinstance(max_grad_norm, (int, float)) and max_grad_norm > 0):
            raise ValueError(f"max_grad_norm must be a number > 0, got {max_grad_norm!r}")
        self.n_states, self.horizon, self.reps = int(n_states), int(horizon), int(reps)
        self.n_epochs, self.batch_size, self.max_grad_norm = int(n_epochs), int(batch_size), float(max_grad_norm)
        self.generation = 0
        self.problem: Problem | None = None
        if _init_setup_model:
            self._setup_model()

    def _setup_model(self) -> None:
        self._setup_lr_schedule()
        self.set_random_seed(self.seed)
        self.policy = self.policy_class(self.observation_space, self.action_space, self.lr_schedule,
                                        **self.policy_kwargs).to(self.device)

    def _excluded_save_params(self) -> list[str]:
        return [*super()._excluded_save_params(), "problem"]

    def _get_torch_save_params(self) -> tuple[list[str], list[str]]:
        return ["policy", "policy.optimizer"], []  # Adam's moments too: a resumed run continues exactly

    def attach(self, problem: Problem) -> DCL:
        """Give the model its task's problem (not saved: re-attached on resume)."""
        if problem.n_actions != self.action_space.n:
            raise ValueError(f"the problem has {problem.n_actions} actions, the policy {self.action_space.n}")
        self.problem = problem
        return self

    # -- the policy as a batch function --------------------------------------------------------
    def _normalizer(self) -> ObsNormalizer | None:
        return ObsNormalizer.from_vec_env(self.get_vec_normalize_env())

    def _logits(self, x: th.Tensor) -> th.Tensor:
        policy = self.policy
        features = policy.extract_features(x, policy.pi_features_extractor)
        return policy.action_net(policy.mlp_extractor.forward_actor(features))

    def act(self, obs: np.ndarray, chunk: int = 65536) -> np.ndarray:
        """The current classifier's actions (argmax) for raw observation rows."""
        normalizer = self._normalizer()
        rows = np.asarray(obs, dtype=np.float32).reshape(len(obs), -1)
        out = np.empty(len(rows), dtype=np.int64)
        self.policy.set_training_mode(False)
        with th.no_grad():
            for s in range(0, len(rows), chunk):
                x = rows[s:s + chunk] if normalizer is None else normalizer(rows[s:s + chunk])
                out[s:s + chunk] = self._logits(th.as_tensor(x, device=self.device)).argmax(dim=1).cpu().numpy()
        return out

    # -- learning -------------------------------------------------------------------------------
    def learn(self, total_timesteps: int, callback=None, log_interval: int = 1, tb_log_name: str = "DCL",
              reset_num_timesteps: bool = True, progress_bar: bool = False) -> DCL:
        if self.problem is None:
            raise RuntimeError("DCL needs its task's problem: model.attach(task.dcl_problem(...)) before learn()")
        venv = self.get_vec_normalize_env()
        if venv is not None:  # its statistics are DCL's own (set once): resets must not move them
            venv.training = False
        total, callback = self._setup_learn(total_timesteps, callback, reset_num_timesteps, tb_log_name, progress_bar)
        callback.on_training_start(locals(), globals())
        going = True
        while going and self.num_timesteps < total:
            callback.on_rollout_start()
            n = min(self.n_states, total - self.num_timesteps)
            stats = self._generation(n)
            for key, value in stats.items():
                self.logger.record(f"dcl/{key}", value)
            callback.on_rollout_end()
            going = self._advance(n, callback)
            self.logger.dump(self.num_timesteps)
        callback.on_training_end()
        return self

    def _advance(self, n: int, callback) -> bool:
        """Count ``n`` labelled states in steps of the VecEnv's width, calling the callbacks at
        every step (so validation and checkpoint schedules, the progress bar and signals behave
        as for an on-policy algorithm); False when a callback stops training."""
        width, done = self.env.num_envs, 0
        while done < n:
            step = min(width, n - done)
            self.num_timesteps += step
            done += step
            if not callback.on_step():
                return False
        return True

    def _generation(self, n: int) -> dict[str, float]:
        """Sample, score, label and fit one generation; returns its statistics."""
        rng = np.random.default_rng([int(self.seed or 0), self.generation, 0x0DC1])
        act = self.act if self.generation > 0 else None
        states = self.problem.sample(act, n, rng)
        obs = np.asarray(self.problem.observe(states), dtype=np.float64)
        self._fit_normalizer(obs)
        costs = self.problem.score(states, act, self.horizon, self.reps, rng)
        labels = costs.argmin(axis=1)
        current = self.act(obs) if act is not None else None
        loss, accuracy = self._fit(obs, labels, rng)
        self.generation += 1
        stats = {"generation": self.generation, "loss": loss, "train_accuracy": accuracy,
                 "label_mean": float(labels.mean())}
        if current is not None:  # how far the labels moved the policy, and the rollout gain
            rows = np.arange(len(labels))
            stats["changed_fraction"] = float(np.mean(current != labels))
            stats["rollout_gain_pct"] = float(100 * np.mean(costs[rows, current] - costs[rows, labels])
                                              / max(np.mean(costs[rows, labels]), 1e-12))
        return stats

    def _fit_normalizer(self, obs: np.ndarray) -> None:
        """Set VecNormalize's observation statistics from the first generation's states."""
        venv = self.get_vec_normalize_env()
        if venv is None or not venv.norm_obs or self.generation > 0:
            return
        venv.obs_rms.mean = obs.mean(axis=0)
        venv.obs_rms.var = np.maximum(obs.var(axis=0), 1e-2)
        venv.obs_rms.count = float(len(obs))

    def _fit(self, obs: np.ndarray, labels: np.ndarray, rng: np.random.Generator) -> tuple[float, float]:
        """Cross-entropy training of the classifier on (obs, labels); returns the last epoch's
        mean loss and the training accuracy."""
        normalizer = self._normalizer()
        x_np = obs.astype(np.float32) if normalizer is None else normalizer(obs)
        x = th.as_tensor(x_np, device=self.device)
        y = th.as_tensor(labels, device=self.device)
        optimizer = self.policy.optimizer
        for group in optimizer.param_groups:
            group["lr"] = self.lr_schedule(1.0)
        self.policy.set_training_mode(True)
        loss_sum, batches = 0.0, 0
        for _ in range(self.n_epochs):
            order = th.as_tensor(rng.permutation(len(y)), device=self.device)
            loss_sum, batches = 0.0, 0
            for s in range(0, len(y), self.batch_size):
                idx = order[s:s + self.batch_size]
                loss = F.cross_entropy(self._logits(x[idx]), y[idx])
                optimizer.zero_grad()
                loss.backward()
                th.nn.utils.clip_grad_norm_(self.policy.parameters(), self.max_grad_norm)
                optimizer.step()
                loss_sum, batches = loss_sum + loss.item(), batches + 1
        self.policy.set_training_mode(False)
        with th.no_grad():
            accuracy = float((self._logits(x).argmax(dim=1) == y).float().mean())
        return (loss_sum / batches if batches else math.nan), accuracy


def first_occurrence(values: np.ndarray) -> np.ndarray:
    """For each row and column j, the first column i <= j with ``values[:, i] == values[:, j]``."""
    n, m = values.shape
    out = np.tile(np.arange(m), (n, 1))
    for j in range(1, m):
        same = values[:, :j] == values[:, j:j + 1]
        has = same.any(axis=1)
        out[has, j] = same[has].argmax(axis=1)
    return out


def check_problem_options(problem, start_policies: tuple[str, ...], scenario_active: bool) -> None:
    """The checks every task's DCL problem makes of its ``agent.problem`` options (one-line
    ConfigErrors): a stationary problem (no scenario), a known ``start_policy``, and the
    sampling integers ``burn_in``, ``sample_every``, ``per_row`` (converted in place)."""
    if scenario_active:
        raise ConfigError("agent=dcl trains on the stationary problem: set scenario=none (evaluate a trained "
                          "policy under a scenario with experiments.benchmark scenarios=[...])")
    if problem.start_policy not in start_policies:
        raise ConfigError(f"agent.problem.start_policy: expected one of {', '.join(start_policies)}, "
                          f"got {problem.start_policy!r}")
    problem.burn_in = check_int("agent.problem.burn_in", problem.burn_in, 0, 100_000)
    problem.sample_every = check_int("agent.problem.sample_every", problem.sample_every, 1, 10_000)
    problem.per_row = check_int("agent.problem.per_row", problem.per_row, 1, 100_000)
