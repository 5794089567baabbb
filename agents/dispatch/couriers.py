"""Courier rules for ``courier_dispatch_v0`` (one agent per courier), and their rollout.

Joint-row protocol: a courier policy is a multi-agent policy (``agents.base``): its
``predict(rows)`` gets one row per courier, its ``observation`` followed by its
``action_mask`` as floats (:func:`joint_rows`: shape ``(n_agents, obs_dim + K + 1)``) and
returns ``(actions, state)``, one action per courier (an int array; K = wait), as a trained
shared model does through ``agents.rl.adapter``.

The rules share one *start rule* (when couriers leave) and differ in which order a leaving
courier takes. An order's *slack* is how long it can still wait: the minutes until a direct
trip leaving then would be late or back after the shift end (from its observation row:
deadline slack, direct travel time; Euclidean travel, so the way back takes the way out).

* start rule: idle couriers start trips one after another while the *urgent* shown orders
  (must-go, or slack below ``urgent`` minutes, default 60) not yet covered weigh more than 0,
  or the pending load not yet covered is at least ``fill`` vehicle capacities (default 3);
  each courier that starts covers one capacity of both (its trip grows by the env's
  insertion). The env dispatches must-go orders anyway; the rule decides when a courier
  leaves early. Defaults: measured on the tuning days of the default instance (fill in
  {2, 3, 4}, urgent in {15, 30, 45, 60, 90, 120} minutes).
* ``nearest``: the unclaimed shown order nearest to the depot (direct travel time);
* ``edf``: the unclaimed shown order of least slack (earliest effective deadline);
* ``hungarian``: every courier (idle, and busy ones by the time until they are back) is
  matched to the shown orders by ``scipy.optimize.linear_sum_assignment`` on
  ``cost[v, o] = cost_per_km x direct round-trip km(o) + cost_per_late_minute x max(0, a_v - s_o)
  + hold x max(0, s_o - a_v)``, with a_v the minutes until courier v can leave and s_o the
  order's slack: late starts pay the lateness price, early starts ``hold`` per minute
  (consolidation given up; default 0.25). Idle couriers then start with their match, least
  slack first, as the start rule allows; an order matched to a busy courier waits for it.
* ``random``: a uniformly random legal action per courier (the sanity baseline).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from scipy.optimize import linear_sum_assignment

from agents.base import MultiAgentPolicy, PolicyKind
from agents.runner import AgentsFace, SimKpis, play
from envs.dispatch import observation as ob
from envs.dispatch.config import DispatchConfig
from envs.dispatch.parallel_env import obs_dim, split_agent_obs

EPS = 1e-9
BIG = 1e9


def joint_rows(obs: dict[str, dict[str, np.ndarray]], agents: Sequence[str]) -> np.ndarray:
    """(n_agents, obs_dim + K + 1) float32: each agent's ``observation`` then its
    ``action_mask``, in the order of ``agents``."""
    return np.stack([np.concatenate([obs[a]["observation"], np.asarray(obs[a]["action_mask"], dtype=np.float32)])
                     for a in agents]).astype(np.float32)


class CourierRule(MultiAgentPolicy):
    """A courier rule (module docstring). ``fill``: pending load, in vehicle capacities, that
    lets one more idle courier leave; ``urgent``: slack (minutes) below which a shown order
    makes a courier leave."""

    name = "courier"

    def __init__(self, config: DispatchConfig, fill: float = 3.0, urgent: float = 60.0):
        self.config = config
        self.K, self.obs_dim = config.max_orders, obs_dim(config.max_orders)
        self.ts = ob.time_scale(config)
        self.fill, self.urgent = float(fill), float(urgent)

    def params(self) -> dict[str, Any]:
        return {"fill": self.fill, "urgent": self.urgent}

    def slack(self, rows0: np.ndarray, fleet0: np.ndarray) -> np.ndarray:
        """Minutes each shown order can still wait before a direct trip leaving then is late
        or back after the shift end (Euclidean travel: the way back takes the way out)."""
        c = self.config
        depart = fleet0[0] * c.day_minutes + c.dispatch_margin_minutes
        direct = rows0[:, 4] * self.ts
        return np.minimum(rows0[:, 3] * self.ts, c.shift_end - depart - 2.0 * direct - c.service_minutes)

    def __repr__(self) -> str:
        return f"{self.name}({', '.join(f'{k}={v:g}' for k, v in self.params().items())})"

    def predict(self, rows: np.ndarray, state: Any = None, episode_start: Any = None,
                deterministic: bool = True) -> tuple[np.ndarray, Any]:
        rows = np.asarray(rows, dtype=np.float64)
        orders, shown, fleet, own, _ = split_agent_obs(rows[:, : self.obs_dim], self.K)
        masks = rows[:, self.obs_dim: self.obs_dim + self.K + 1] > 0.5
        n = len(rows)
        actions = np.full(n, self.K, dtype=np.int64)
        rows0, visible = orders[0], shown[0] > 0.5  # the order rows are the same for every courier
        if not visible.any():
            return actions, state
        slack = self.slack(rows0, fleet[0])
        urgent = visible & ((rows0[:, 5] > 0.5) | (slack < self.urgent))
        must_load = float(rows0[urgent, 2].sum())  # capacities
        load = float(fleet[0, 4]) * n  # the whole pending load, in capacities (fleet feature 4)
        claimed = np.zeros(self.K, dtype=bool)
        for v, choice in self.proposals(rows0, np.where(visible, slack, np.inf), own, masks):
            if not (must_load > EPS or load >= self.fill - EPS):
                break
            if choice is None:
                choice = self.pick(rows0, slack, visible & masks[v, : self.K] & ~claimed)
            if choice is None or claimed[choice] or not masks[v, choice]:
                continue
            actions[v], claimed[choice] = choice, True
            must_load -= 1.0
            load -= 1.0
        return actions, state

    def proposals(self, rows0, slack, own, masks):
        """(courier, proposed order or None: pick at its turn) of the idle couriers, in the
        order they may start (default: by index); ``slack``: inf for rows not shown."""
        return [(int(v), None) for v in np.flatnonzero(masks[:, : self.K].any(axis=1))]

    def pick(self, rows0: np.ndarray, slack: np.ndarray, allowed: np.ndarray) -> int | None:
        raise NotImplementedError


class Nearest(CourierRule):
    name = "nearest"

    def pick(self, rows0, slack, allowed):
        if not allowed.any():
            return None
        return int(np.flatnonzero(allowed)[np.argmin(rows0[allowed, 4])])


class EarliestDeadline(CourierRule):
    name = "edf"

    def pick(self, rows0, slack, allowed):
        if not allowed.any():
            return None
        return int(np.flatnonzero(allowed)[np.argmin(slack[allowed])])


class Hungarian(CourierRule):
    """The assignment rule; ``hold``: cost per minute an order leaves before it must."""

    name = "hungarian"

    def __init__(self, config: DispatchConfig, fill: float = 3.0, urgent: float = 60.0, hold: float = 0.25):
        super().__init__(config, fill, urgent)
        self.hold = float(hold)

    def params(self) -> dict[str, Any]:
        return {**super().params(), "hold": self.hold}

    def cost_matrix(self, rows0, slack, own, masks) -> np.ndarray:
        """(couriers, shown orders) assignment cost (module docstring); BIG where an idle
        courier may not take the order."""
        c = self.config
        idx = np.flatnonzero(np.isfinite(slack))
        slack = slack[idx]
        km = 2.0 * rows0[idx, 4] * self.ts * c.speed  # direct round trip (Euclidean days)
        idle = masks[:, : self.K].any(axis=1)
        avail = np.where(idle, 0.0, np.maximum(0.0, own[:, 1] * self.ts - c.dispatch_margin_minutes))
        gap = avail[:, None] - slack[None, :]
        cost = c.cost_per_km * km[None, :] + c.cost_per_late_minute * np.maximum(0.0, gap) \
            + self.hold * np.maximum(0.0, -gap)
        return np.where(idle[:, None] & ~masks[:, idx], BIG, cost)

    def proposals(self, rows0, slack, own, masks):
        idx = np.flatnonzero(np.isfinite(slack))
        cost = self.cost_matrix(rows0, slack, own, masks)
        couriers, cols = linear_sum_assignment(cost)
        idle = masks[:, : self.K].any(axis=1)
        out = [(int(v), int(idx[j])) for v, j in zip(couriers, cols, strict=True)
               if idle[v] and cost[v, j] < BIG / 2]
        return sorted(out, key=lambda vo: (slack[vo[1]], vo[0]))  # most urgent match first

    def pick(self, rows0, slack, allowed):
        return None


class RandomLegal(MultiAgentPolicy):
    """A uniformly random legal action per courier (``seed``: its generator)."""

    name = "random"

    def __init__(self, config: DispatchConfig, seed: int = 0):
        self.K, self.obs_dim = config.max_orders, obs_dim(config.max_orders)
        self.rng = np.random.default_rng(seed)

    def params(self) -> dict[str, Any]:
        return {}

    def predict(self, rows: np.ndarray, state: Any = None, episode_start: Any = None,
                deterministic: bool = True) -> tuple[np.ndarray, Any]:
        masks = np.asarray(rows)[:, self.obs_dim: self.obs_dim + self.K + 1] > 0.5
        return np.array([self.rng.choice(np.flatnonzero(m)) for m in masks], dtype=np.int64), state


RULES: dict[str, type] = {"nearest": Nearest, "edf": EarliestDeadline, "hungarian": Hungarian, "random": RandomLegal}


def make(name: str, env, **params: Any):
    """The courier rule ``name`` (``nearest``, ``edf``, ``hungarian``, ``random``) for ``env``
    (a courier env; its config sizes the rows)."""
    if name not in RULES:
        raise ValueError(f"courier rule: unknown {name!r}; expected one of {', '.join(RULES)}")
    return RULES[name](env.config, **params)


def courier_face(env) -> AgentsFace:
    """``env`` (a courier ParallelEnv) as the runner plays it: joint rows in."""
    return AgentsFace(env, joint_rows)


def play_day(env, policy, seed: int):
    """Play one day of ``env`` (a courier ParallelEnv) with ``policy`` (a multi-agent policy
    on joint rows) through the episode runner; returns the env's simulator."""
    play(policy, [seed], {PolicyKind.MULTI_AGENT: lambda: courier_face(env)}, lambda face: SimKpis(), task="dispatch")
    return env.unwrapped.sim


def courier_rollout(make_env: Callable[[], Any], policy, seeds: Sequence[int]) -> dict[str, np.ndarray]:
    """One day per seed (``env.reset(seed=s)``, common random numbers with every face);
    per-day arrays of ``DispatchSimulator.kpis()``."""
    return play(policy, seeds, {PolicyKind.MULTI_AGENT: lambda: courier_face(make_env())}, lambda face: SimKpis(),
                task="dispatch")
