"""The newsvendor task: the worked example of ``docs/adding_a_task.md``.

The exact optimum is the critical-fractile order ``min{q : P(D <= q) >= p / (p + h)}``; the
tuned heuristic is a constant order raced on the tuning seeds; ``random`` is the floor.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats

from agents.base import ObservationPolicy, PolicyKind
from agents.rl.adapter import DirectInterface
from agents.runner import GymFace, PeriodMeter, play
from agents.seeds import TUNE_SEED_BASE
from agents.task import EvaluationDefaults, Kpi, SpeedCase, Task
from agents.tuning import Axis, RaceSettings, race
from envs.core.config import ConfigError
from tests.toy.env import NewsvendorEnv, NewsvendorParallelEnv


@dataclass(frozen=True)
class NewsvendorTraining:
    """Training defaults: the agents of the multi-agent face (parameter sharing)."""

    n_agents: int = 3


class Constant(ObservationPolicy):
    """Order ``quantity`` every period."""

    def __init__(self, quantity, name: str = "constant"):
        self.quantity, self.name = quantity, name

    def predict(self, observation, state=None, episode_start=None, deterministic=True):
        obs = np.asarray(observation)
        q = np.broadcast_to(np.asarray(self.quantity, dtype=np.int64), obs.shape[:-1] or (1,))
        return (q.reshape(obs.shape[:-1]) if obs.ndim > 1 else int(q.reshape(-1)[0])), None

    def params(self) -> dict[str, Any]:
        return {"quantity": int(np.asarray(self.quantity).reshape(-1)[0])}


class Random(ObservationPolicy):
    def __init__(self, q_max: int, seed: int = 0):
        self.q_max, self.rng, self.name = q_max, np.random.default_rng(seed), "random"

    def predict(self, observation, state=None, episode_start=None, deterministic=True):
        obs = np.asarray(observation)
        q = self.rng.integers(0, self.q_max + 1, size=obs.shape[:-1] or None)
        return q, None


class Identity(DirectInterface):
    """Model interface: the model acts on the observation itself (one row per observation)."""

    def __init__(self, shared: bool):
        self.shared = shared

    def essentials(self) -> dict[str, Any]:
        return {"shared": self.shared}

    def model_obs(self, obs):
        return np.asarray(obs, dtype=np.float32).reshape(-1, 1)

    def env_action(self, action, obs):
        return np.asarray(action).reshape(-1).astype(np.int64)

    def params(self) -> dict[str, Any]:
        return {"shared": self.shared}


class NewsvendorMeter(PeriodMeter):
    """Cost per measured period and fill rate, from the env's step infos."""

    keys = ("cost",)

    def __init__(self, warmup: int):
        super().__init__(warmup)
        self.demand, self.sold = 0, 0

    def measure(self, t: int, info, sim) -> None:
        self.demand += info["demand"]
        self.sold += info["sales"]

    def totals(self) -> dict[str, float]:
        return {"fill_rate": self.sold / self.demand if self.demand else 1.0}


class NewsvendorTask(Task):
    name = "newsvendor"
    env_id = "toy/Newsvendor-v0"
    kpis = (Kpi("fill_rate", "fill rate", "{:.2%}"),)
    default_agents = ("optimal", "constant", "random")
    evaluation_defaults = EvaluationDefaults(periods=200, warmup=0, reps=32, validation_reps=8)
    training_options = NewsvendorTraining

    def make_config(self, env_kwargs: Mapping[str, Any]) -> dict[str, Any]:
        NewsvendorEnv(**env_kwargs)  # validates every argument
        return dict(env_kwargs)

    def env_kwargs(self) -> dict[str, Any]:
        return dict(self.config)

    def describe(self) -> str:
        c = NewsvendorEnv(**self.config)
        return f"Newsvendor: Poisson({c.mean:g}) demand, h={c.h:g}, p={c.p:g}, q_max={c.q_max}"

    def training_env_fn(self, maskable: bool = False) -> Callable[[], Any]:
        return lambda: NewsvendorEnv(**self.config)

    def make_parallel_env(self):
        return NewsvendorParallelEnv(n_agents=self.training.n_agents, **self.config)

    def agent_names(self) -> tuple[str, ...]:
        return self.default_agents

    def reference_name(self) -> str | None:
        return "optimal"

    def make_agent(self, name: str, tuning_reps: int | None = None, smoke: bool = False):
        env = NewsvendorEnv(**self.config)
        if name == "optimal":
            ratio = env.p / (env.p + env.h)
            return Constant(int(min(stats.poisson.ppf(ratio, env.mean), env.q_max)), "optimal")
        if name == "random":
            return Random(env.q_max)
        if name != "constant":
            raise ConfigError(f"agents: unknown agent {name!r} for env={self.name}; accepted agents are "
                              f"{', '.join(self.agent_names())}")
        reps = tuning_reps or (4 if smoke else 32)
        seeds = TUNE_SEED_BASE + np.arange(reps)

        def evaluate(params: dict[str, np.ndarray], n: int) -> np.ndarray:
            return np.stack([self.rollout(Constant(q), seeds[:n], 100, 0)["cost"] for q in params["quantity"]])

        result = race(evaluate, [Axis("quantity", np.arange(env.q_max + 1), 0, env.q_max)],
                      RaceSettings(reps, min_screen_reps=min(4, reps)))
        return Constant(result.params["quantity"])

    def rollout(self, policy, seeds: Sequence[int], periods: int | None, warmup: int) -> dict[str, np.ndarray]:
        horizon = warmup + (periods or self.evaluation.periods)
        env = NewsvendorEnv(**{**self.config, "episode_length": horizon})
        faces = {PolicyKind.OBSERVATION: lambda: GymFace(env, simulator=lambda env: env)}  # the env is its simulator
        return play(policy, seeds, faces, lambda face: NewsvendorMeter(warmup), task=self.name)

    def model_interface(self, shared: bool = False, essentials: Mapping[str, Any] | None = None,
                        maskable: bool = False):
        return Identity(shared)

    def check_algorithm(self, algorithm, shared: bool) -> None:
        if "discrete" not in algorithm.action_types:
            raise ConfigError(f"agent={algorithm.name}: the newsvendor has discrete orders")

    def speed_cases(self) -> list[SpeedCase]:
        def run(seconds: float) -> float:
            import time

            env = NewsvendorEnv()
            env.reset(seed=0)
            steps, start = 0, time.perf_counter()
            while time.perf_counter() - start < seconds:
                _, _, _, truncated, _ = env.step(3)
                steps += 1
                if truncated:
                    env.reset()
            return steps / (time.perf_counter() - start)

        return [SpeedCase("Newsvendor env.step", "steps/s", run)]
