"""The newsvendor task: the worked example of ``docs/adding_a_task.md``.

The exact optimum is the critical-fractile order ``min{q : P(D <= q) >= p / (p + h)}``; the
tuned heuristic is a constant order raced on the tuning seeds; ``random`` is the floor. The
task is its class attributes plus the seven required hooks; this module is also its speed
module (:func:`speed_cases`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from scipy import stats

from agents.base import ObservationPolicy, PolicyKind
from agents.kpi import Kpi
from agents.rl.adapter import DirectInterface
from agents.runner import GymFace, PeriodMeter, play
from agents.speed_case import SpeedCase, timed
from agents.task import Builder, Task
from agents.task_config import EvaluationDefaults
from agents.tuning import Axis, CrnEvaluator, RaceSettings
from envs.core.config import check_int
from tests.toy.config import NewsvendorConfig
from tests.toy.env import NewsvendorEnv, NewsvendorParallelEnv

if TYPE_CHECKING:
    from agents.rl.interface import ModelInterface


@dataclass(frozen=True)
class NewsvendorTraining:
    """Training defaults: the agents of the multi-agent face (parameter sharing)."""

    n_agents: int = 3

    def __post_init__(self) -> None:
        check_int("env.training.n_agents", self.n_agents, 1, 1000)


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
    algorithms = shared_algorithms = ("ppo", "a2c", "dqn", "maskable_ppo", "recurrent_ppo")
    algorithms_note = "the newsvendor has discrete orders"
    speed_module = __name__

    # -- the seven required hooks ----------------------------------------------------------
    def make_config(self, env_kwargs: Mapping[str, Any]) -> NewsvendorConfig:
        return NewsvendorConfig.from_kwargs(env_kwargs)

    def env_kwargs(self) -> dict[str, Any]:
        return self.config.to_dict()

    def describe(self) -> str:
        c = self.config
        return f"Newsvendor: Poisson({c.mean:g}) demand, h={c.holding_cost:g}, p={c.penalty:g}, q_max={c.q_max}"

    def training_env_fn(self, maskable: bool = False) -> Callable[[], Any]:
        return lambda: NewsvendorEnv(self.config)

    def agent_builders(self) -> dict[str, Builder]:
        return {"optimal": self._optimal, "constant": self._constant, "random": self._random}

    def _optimal(self, tuning_reps: int | None, smoke: bool) -> Constant:
        c = self.config
        ratio = c.penalty / (c.penalty + c.holding_cost)
        return Constant(int(min(stats.poisson.ppf(ratio, c.mean), c.q_max)), "optimal")

    def _constant(self, tuning_reps: int | None, smoke: bool) -> Constant:
        c, reps = self.config, tuning_reps or (4 if smoke else 32)
        evaluator = CrnEvaluator(reps, lambda policies, seeds: [self.rollout(p, seeds, 100, 0)["cost"] for p in policies])
        result = evaluator.race(Constant, [Axis("quantity", np.arange(c.q_max + 1), 0, c.q_max)],
                                RaceSettings(reps, min_screen_reps=min(4, reps)))
        return Constant(result.params["quantity"])

    def _random(self, tuning_reps: int | None, smoke: bool) -> Random:
        return Random(self.config.q_max)

    def rollout(self, policy, seeds: Sequence[int], periods: int | None, warmup: int) -> dict[str, np.ndarray]:
        horizon = warmup + (periods or self.evaluation.periods)
        env = self.make_env(episode_length=horizon)  # Task.make_env: gymnasium.make(env_id, ...)
        faces = {PolicyKind.OBSERVATION: lambda: GymFace(env, simulator=lambda env: env.unwrapped)}  # its own simulator
        return play(policy, seeds, faces, lambda face: NewsvendorMeter(warmup), task=self.name)

    def model_interface(self, shared: bool = False, essentials: Mapping[str, Any] | None = None,
                        maskable: bool = False) -> ModelInterface:
        return Identity(shared)

    # -- optional: a reference and a multi-agent face ----------------------------------------
    def reference_name(self) -> str | None:
        return "optimal"

    def make_parallel_env(self):
        return NewsvendorParallelEnv(n_agents=self.training.n_agents, **self.config.to_dict())


def speed_cases() -> list[SpeedCase]:
    """The newsvendor's env steps per second (this module is the task's ``speed_module``)."""
    env = NewsvendorEnv()
    env.reset(seed=0)

    def one(done: int) -> int:
        if env.step(3)[3]:  # truncated
            env.reset()
        return 1

    return [SpeedCase("Newsvendor env.step", "steps/s", lambda seconds: timed(seconds, one))]
