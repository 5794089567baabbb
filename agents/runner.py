"""The one episode runner: plays a policy of any kind (``agents.base.PolicyKind``) for one
episode per seed and collects per-replication KPIs.

A task's rollout is a call of :func:`play` with three things of its own:

* ``faces``: for each policy kind the task plays, a factory of the face it plays on (a
  Gymnasium env as :class:`GymFace`, a PettingZoo ParallelEnv as :class:`AgentsFace`); a
  kind the task does not play is a one-line ConfigError naming the kinds it does;
* ``meter``: a factory of the task's :class:`Meter` (given the face), which turns one
  episode (its step infos and its simulator) into KPIs, ``cost`` among them
  (:class:`PeriodMeter`: means per measured period; :class:`SimKpis`: the simulator's own);
* ``callback`` (optional): an :class:`EpisodeCallback` told of every reset, step and episode
  end: a task's :class:`PlanWriter` (``save_plans``, :func:`plan_writers`).

How each kind is played is decided here, in :data:`PLAYERS`, and nowhere else:

* observation policies: ``predict`` on each observation, the action to the env;
* simulator policies: bound to the episode's simulator after the reset
  (``SimulatorPolicy.bind``); each step, the face's ``decide(policy, env)`` reads its
  decision (default: its ``predict``, which acts from the bound simulator);
* plan policies: ``run_episode(sim)`` after the reset plans and executes the whole episode;
* multi-agent policies: ``predict`` on the face's rows (one per live agent), one action per
  agent back to the PettingZoo env.

Every face is reset with the replication's seed (common random numbers), and an episode runs
until the env ends it (terminated or truncated; a PettingZoo env: no agent left).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from agents.base import PolicyKind, policy_kind
from agents.seeds import EVAL_SEED_BASE
from envs.core.config import ConfigError


class GymFace:
    """A Gymnasium env as the runner plays it. ``step``: the env's step function (default
    ``env.step``; e.g. a step that takes a simulator policy's orders and builds no
    observation); ``decide(policy, env)``: how a bound simulator policy's action is read
    (default: its ``predict`` on the observation); ``simulator(env)``: the simulator the
    meter, callbacks and simulator policies see (default ``env.unwrapped.sim``)."""

    def __init__(self, env, step: Callable | None = None, decide: Callable | None = None,
                 simulator: Callable[[Any], Any] | None = None):
        self.env = env
        self._step = step or env.step
        self.decide = decide
        self._simulator = simulator

    @property
    def sim(self):
        """The simulator of the current episode."""
        return self._simulator(self.env) if self._simulator is not None else self.env.unwrapped.sim

    def reset(self, seed: int):
        return self.env.reset(seed=seed)[0]

    def step(self, action) -> tuple[Any, Any, bool]:
        """``(observation, info, episode over)``."""
        obs, _, terminated, truncated, info = self._step(action)
        return obs, info, bool(terminated or truncated)


class AgentsFace(GymFace):
    """A PettingZoo ParallelEnv: ``rows(obs, agents)`` are what a multi-agent policy reads
    (one row per live agent); actions go back in the order of ``env.agents``; the info of a
    step is the dict of per-agent infos."""

    def __init__(self, env, rows: Callable[[dict, list[str]], np.ndarray], decide: Callable | None = None):
        super().__init__(env, decide=decide)
        self.rows = rows

    def step(self, actions) -> tuple[Any, Any, bool]:
        agents = list(self.env.agents)
        chosen = np.asarray(actions).reshape(-1)
        obs, _, _, _, infos = self.env.step({a: int(x) for a, x in zip(agents, chosen, strict=True)})
        return obs, infos, not self.env.agents


class Meter:
    """Measures one episode for the runner: :meth:`start` after the reset, :meth:`step` after
    every step (``t`` counts steps from 0; ``info`` is the face's), :meth:`finish` at the end
    returns the episode's KPIs (floats, ``cost`` among them). A plan policy's episode has no
    steps. Subclasses override what they need."""

    def start(self, sim) -> None:
        pass

    def step(self, t: int, info, sim) -> None:
        pass

    def finish(self, sim) -> dict[str, float]:
        raise NotImplementedError  # pragma: no cover - abstract


class PeriodMeter(Meter):
    """Means per measured period of the step infos' ``keys`` (the first ``warmup`` steps are
    simulated, not measured); a subclass adds :meth:`measure` (called on every measured step)
    and :meth:`totals` (more KPIs at the end)."""

    keys: tuple[str, ...] = ()

    def __init__(self, warmup: int):
        self.warmup, self.measured = warmup, 0
        self.sums = dict.fromkeys(self.keys, 0.0)

    def step(self, t: int, info, sim) -> None:
        if t >= self.warmup:
            for k in self.keys:
                self.sums[k] += info[k]
            self.measured += 1
            self.measure(t, info, sim)

    def measure(self, t: int, info, sim) -> None:
        pass

    def totals(self) -> dict[str, float]:
        return {}

    def finish(self, sim) -> dict[str, float]:
        return {**{k: self.sums[k] / self.measured for k in self.keys}, **self.totals()}


class SimKpis(Meter):
    """The simulator's own ``kpis()`` at the end of the episode."""

    def finish(self, sim) -> dict[str, float]:
        return sim.kpis()


class EpisodeCallback:
    """Told of every episode the runner plays (all no-ops by default)."""

    def on_reset(self, seed: int, sim) -> None:
        pass

    def on_step(self, sim) -> None:
        pass

    def on_end(self, seed: int, sim) -> None:
        pass


class PlanWriter(EpisodeCallback):
    """A task's plan recording (``Task.plan_writer``): writes the plan of every episode one
    agent plays to ``<directory>/<agent>/episode_<r>.csv``, r the replication (the seed minus
    ``EVAL_SEED_BASE``, or the seed itself below it). Subclasses write in their hooks."""

    def __init__(self, directory: str | Path, agent: str):
        self.folder = Path(directory) / agent

    def path(self, seed: int) -> Path:
        """The file of the episode of ``seed`` (its folder created)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        return self.folder / f"episode_{seed - EVAL_SEED_BASE if seed >= EVAL_SEED_BASE else seed}.csv"


def plan_writers(task, directory: str | Path) -> Callable[[str], EpisodeCallback]:
    """Agent name -> the task's plan writer for it under ``directory``; a one-line
    ConfigError if the task has no plans."""
    if task.plan_writer is None:
        raise ConfigError(f"save_plans: env={task.name} has no plans to save")
    return lambda agent: task.plan_writer(directory, agent)


def _observation(policy, face: GymFace, seed: int, meter: Meter, callback: EpisodeCallback):
    obs = face.reset(seed)
    return _steps(face, seed, meter, callback, obs, lambda o: policy.predict(o, deterministic=True)[0])


def _simulator(policy, face: GymFace, seed: int, meter: Meter, callback: EpisodeCallback):
    obs = face.reset(seed)
    policy.bind(face.sim, seed)
    if face.decide is None:
        return _steps(face, seed, meter, callback, obs, lambda o: policy.predict(o, deterministic=True)[0])
    return _steps(face, seed, meter, callback, obs, lambda o: face.decide(policy, face.env))


def _multi_agent(policy, face: AgentsFace, seed: int, meter: Meter, callback: EpisodeCallback):
    obs = face.reset(seed)
    env = face.env
    return _steps(face, seed, meter, callback, obs,
                  lambda o: policy.predict(face.rows(o, env.agents), deterministic=True)[0])


def _plan(policy, face: GymFace, seed: int, meter: Meter, callback: EpisodeCallback):
    face.reset(seed)
    sim = face.sim
    meter.start(sim)
    callback.on_reset(seed, sim)
    policy.run_episode(sim)
    callback.on_end(seed, sim)
    return meter.finish(sim)


def _steps(face: GymFace, seed: int, meter: Meter, callback: EpisodeCallback, obs, act) -> dict[str, float]:
    """The step loop every stepped kind shares: ``act(obs)`` -> the face, until the episode ends."""
    sim = face.sim
    meter.start(sim)
    callback.on_reset(seed, sim)
    t, done = 0, False
    while not done:
        obs, info, done = face.step(act(obs))
        meter.step(t, info, sim)
        callback.on_step(sim)
        t += 1
    callback.on_end(seed, sim)
    return meter.finish(sim)


PLAYERS: dict[PolicyKind, Callable[..., dict[str, float]]] = {
    PolicyKind.OBSERVATION: _observation,
    PolicyKind.SIMULATOR: _simulator,
    PolicyKind.PLAN: _plan,
    PolicyKind.MULTI_AGENT: _multi_agent,
}
"""How each policy kind is played: the one dispatch point."""


def check_kind(policy, kinds, task: str) -> PolicyKind:
    """The kind of ``policy`` (``agents.base.policy_kind``) if it is among ``kinds``, the kinds
    ``task`` plays; else a one-line ConfigError naming them."""
    kind = policy_kind(policy)
    if kind not in kinds:
        played = ", ".join(k.value for k in kinds)
        raise ConfigError(f"agents: {policy.name} is a {kind.value} policy; env={task} plays {played} policies")
    return kind


def play(policy, seeds: Sequence[int], faces: Mapping[PolicyKind, Callable[[], GymFace]],
         meter: Callable[[GymFace], Meter], callback: EpisodeCallback | None = None,
         task: str = "this task") -> dict[str, np.ndarray]:
    """Play ``policy`` for one episode per seed on the face of its kind (module docstring);
    per-replication arrays of the meter's KPIs (float64, one value per seed)."""
    kind = check_kind(policy, faces, task)
    face = faces[kind]()
    player, callback = PLAYERS[kind], callback or EpisodeCallback()
    rows = [player(policy, face, int(seed), meter(face), callback) for seed in seeds]
    return {k: np.array([r[k] for r in rows], dtype=np.float64) for k in rows[0]}
