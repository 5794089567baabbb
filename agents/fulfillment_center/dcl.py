"""The fulfilment-centre problem of Deep Controlled Learning (``agents.rl.dcl``): one shared
per-SKU classifier, trained on (centre state, SKU) pairs whose candidate actions are scored by
rollouts in which the shared capacity couples the SKU to the rest of the warehouse.

* **Policy**: the shared per-SKU policy of parameter-sharing training (``shared=true``): it
  reads the PettingZoo env's per-agent observation and answers one action of the training
  action type (``env.training.action_type``, a level by default); every SKU of the centre
  acts with it.
* **States** are sampled by running the current policy (generation 0: the tuned heuristic
  ``start_policy``, default ``capacity_base_stock``) on the task's training problem: ``rows``
  centres start as a training episode starts (random start day), run ``burn_in`` periods,
  then one centre state is kept every ``sample_every`` periods, ``per_row`` per centre. Each
  kept centre state gives ``skus_per_state`` labelled pairs (SKUs drawn without replacement);
  a generation's ``n_states`` counts pairs.
* **Scoring** (generations >= 1): for each centre state, ``reps`` *base rollouts* of the whole
  centre under the current policy for ``max_i L_i + horizon`` periods, on fresh demand paths drawn from
  the state's day (``DemandProcess``; a running promotion is not carried into the branch).
  Then, for each pair (state, SKU i) and each *distinct* candidate order of SKU i (levels at
  or below its inventory position all order nothing), SKU i is rolled out alone on base
  rollout r's demand path (common random numbers), taking the candidate first and then the
  current policy for ``L_i + horizon`` periods in all (its lead time, so that every candidate's
  order is followed for ``horizon`` periods after it arrives), against the rest of the
  warehouse **held as in base rollout r**: the other
  SKUs' receipts and stock are theirs in that rollout, so at each receipt the pro-rata rule
  is applied exactly to SKU i's receipt together with theirs, and SKU i's observation sees
  the utilisation they and it make. The cost of a candidate is SKU i's own cost plus the
  overflow cost of *every* unit the warehouse refuses in each period (and the refunds with
  ``overflow=return``): the capacity coupling enters through the rollouts. What it leaves
  out is second-order: units refused to other SKUs do not change their later stock, and
  their later actions do not react to SKU i (they follow base rollout r).
  The candidate equal to the current policy's action reproduces the base rollout exactly
  (a test checks it); with unlimited capacity every rollout is exact.
* **Generation 0** labels each pair with the level action whose order is closest to the
  start heuristic's order in that state (imitation: the heuristic is a rule over the whole
  centre, e.g. the capacity throttle, so it cannot be rolled out SKU by SKU), so generation 1
  starts from a classifier close to the tuned heuristic; every later generation is DCL.

Supported: lost sales, fixed lead times, no stress scenario, a discrete action type (level
or discrete); anything else is a one-line ConfigError.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from agents.rl.dcl import check_problem_options, first_occurrence
from envs.core.config import ConfigError, check_int
from envs.replenishment.demand.processes import DemandProcess
from envs.replenishment.fulfillment_center.config import Problem
from envs.replenishment.fulfillment_center.parallel_env import agent_observations
from envs.replenishment.fulfillment_center.rows import SkuRows, grouped_refusals
from envs.replenishment.fulfillment_center.simulator import GLOBAL_FEATURES, FulfillmentSimulator

START_POLICIES = ("base_stock", "s_S", "capacity_base_stock")
# rows simulated at once when scoring (bounds memory: about 1 kB per row with the records)
CHUNK_ROWS = 1 << 19


@dataclass
class FCStates:
    """Sampled centre states and the labelled (state, SKU) pairs.

    ``rows``: every SKU of every sampled centre state (N consecutive rows per state);
    ``obs`` (states, N, F + G): their observations; ``start_orders`` (states, N): the start
    heuristic's orders there (generation 0 only, else None); ``state``, ``sku`` (n,): the pairs."""

    rows: SkuRows
    obs: np.ndarray
    start_orders: np.ndarray | None
    state: np.ndarray
    sku: np.ndarray


@dataclass
class FulfillmentDCL:
    """DCL's view of a :class:`~agents.fulfillment_center.task.FulfillmentCenterTask` (module
    docstring)."""

    task: Any
    start_policy: str | None = None
    burn_in: int = 28
    sample_every: int = 7
    per_row: int = 4
    skus_per_state: int = 25

    def __post_init__(self) -> None:
        self.problem: Problem = self.task.training_problem()
        cfg = self.problem.config
        if cfg.backorders or cfg.lead_time_jitter:
            raise ConfigError("agent=dcl on the fulfilment centre supports lost sales with fixed lead times: set "
                              "env.backorders=false and env.lead_time_jitter=0")
        if cfg.action_choices is None:
            raise ConfigError(f"agent=dcl needs a discrete action: env.training.action_type level or discrete, "
                              f"got {cfg.action_type!r}")
        self.start_policy = self.start_policy or "capacity_base_stock"
        check_problem_options(self, START_POLICIES, cfg.scenario.active)
        self.skus_per_state = check_int("agent.problem.skus_per_state", self.skus_per_state, 1, 1_000_000)
        last = self.burn_in + (self.per_row - 1) * self.sample_every
        if last >= cfg.episode_length:
            raise ConfigError(f"agent.problem: burn_in + (per_row - 1) x sample_every = {last} periods must be "
                              f"shorter than the training episode (env.episode_length={cfg.episode_length})")
        self.n, self.n_actions = self.problem.n, len(cfg.action_choices)
        self._start = None
        self._demand = DemandProcess(cfg.demand, self.problem.catalogue, replay=cfg.catalogue == "csv")

    def start(self):
        if self._start is None:
            self._start = self.task.make_agent(self.start_policy)
        return self._start

    # -- states --------------------------------------------------------------------------
    def sample(self, act, n: int, rng: np.random.Generator) -> FCStates:
        k = min(self.skus_per_state, self.n)
        n_fc = -(-n // k)
        sims = [FulfillmentSimulator(self.problem) for _ in range(-(-n_fc // self.per_row))]
        for sim in sims:
            sim.reset(np.random.default_rng(rng.integers(2**63)))
        kept, obs, start_orders = [], [], []
        for t in range(self.burn_in + (self.per_row - 1) * self.sample_every + 1):
            rows = np.concatenate([agent_observations(sim) for sim in sims])
            heuristic = self._heuristic_orders(sims) if act is None else None
            if t >= self.burn_in and (t - self.burn_in) % self.sample_every == 0:
                kept.extend(sim.snapshot() for sim in sims)
                obs.append(rows.reshape(len(sims), self.n, -1))
                if heuristic is not None:
                    start_orders.append(heuristic)
            if heuristic is not None:
                orders = heuristic
            else:
                actions = act(rows).reshape(len(sims), self.n)
                orders = np.stack([sim.orders_from_actions(a) for sim, a in zip(sims, actions, strict=True)])
            for sim, q in zip(sims, orders, strict=True):
                sim.step(q)
        # kept is time-major (all centres at each sample time); pick n_fc states at random
        pick = rng.permutation(len(kept))[:n_fc]
        all_obs = np.concatenate(obs)[pick]
        starts = np.concatenate(start_orders)[pick] if act is None else None
        rows = SkuRows.from_states(self.problem, [kept[i] for i in pick])
        state = np.repeat(np.arange(n_fc), k)[:n]
        sku = np.concatenate([rng.choice(self.n, size=k, replace=False) for _ in range(n_fc)])[:n]
        return FCStates(rows, all_obs, starts, state, sku)

    def _heuristic_orders(self, sims: list[FulfillmentSimulator]) -> np.ndarray:
        orders, _ = self.start().predict(np.stack([sim.flat_observation() for sim in sims]))
        return np.asarray(orders, dtype=np.int64).reshape(len(sims), self.n)

    def observe(self, states: FCStates) -> np.ndarray:
        return states.obs[states.state, states.sku]

    def candidate_orders(self, states: FCStates) -> np.ndarray:
        """The order (n, n_actions) each candidate action places for each pair's SKU."""
        index = states.state * self.n + states.sku
        rows = states.rows.take(np.repeat(index, self.n_actions))
        return rows.orders(np.tile(np.arange(self.n_actions), len(index))).reshape(len(index), self.n_actions)

    # -- scores --------------------------------------------------------------------------
    def score(self, states: FCStates, act, horizon: int, reps: int, rng: np.random.Generator) -> np.ndarray:
        candidates = self.candidate_orders(states)
        if act is None:  # generation 0: the distance to the start heuristic's order (imitation)
            target = states.start_orders[states.state, states.sku]
            return np.abs(candidates - target[:, None]).astype(np.float64)
        first = first_occurrence(candidates)
        distinct = (first == np.arange(self.n_actions)[None, :]).sum(axis=1)
        out = np.empty((len(states.state), self.n_actions))
        n_fc = len(states.obs)
        per_state = reps * max(self.n, int(np.bincount(states.state, weights=distinct).max(initial=1)))
        chunk = max(1, CHUNK_ROWS // per_state)
        for s0 in range(0, n_fc, chunk):
            fcs = np.arange(s0, min(s0 + chunk, n_fc))
            pairs = np.flatnonzero((states.state >= fcs[0]) & (states.state <= fcs[-1]))
            base = self.base_rollouts(states, fcs, act, self.rollout_periods(horizon), reps, rng)
            out[pairs] = self.pair_costs(states, pairs, fcs, base, candidates[pairs], first[pairs], act, horizon)
        return out

    def rollout_periods(self, horizon: int) -> int:
        """Periods of a base rollout: the longest lead time plus ``horizon``."""
        return int(self.problem.lead_time.max()) + horizon

    def base_rollouts(self, states: FCStates, fcs: np.ndarray, act, horizon: int, reps: int,
                      rng: np.random.Generator) -> dict[str, np.ndarray]:
        """``reps`` rollouts of ``horizon`` periods of the whole centre from each state of ``fcs`` under ``act``.
        Returns per (state, rep) group and period: ``demand``, ``need``, ``left``, ``on_hand``,
        ``rejected`` and the SKUs' own ``cost`` (``RowPeriod.cost``) (horizon, groups, N), and the
        group's volumes ``need_vol``, ``left_vol``, ``stock_vol`` (horizon, groups)."""
        n, p = self.n, self.problem
        index = (np.repeat(fcs, reps)[:, None] * n + np.arange(n)[None, :]).reshape(-1)
        rows = states.rows.take(index)
        groups = len(fcs) * reps
        demand = self.demand_paths(states.rows.day[fcs * n], reps, horizon, rng)  # (H, groups, N)
        refuse = grouped_refusals(rows, p.capacity) if p.limited else None
        util = np.repeat(states.obs[fcs, 0, -len(GLOBAL_FEATURES)], reps * n)
        rec = {k: np.empty((horizon, groups, n), dtype=np.int64) for k in ("need", "left", "on_hand", "rejected")}
        rec["cost"] = np.empty((horizon, groups, n))
        stock_vol = np.empty((horizon, groups))  # each group's stock volume after each period
        for t in range(horizon):
            q = rows.orders(act(rows.observations(util)))
            period = rows.step(q, demand[t].reshape(-1), refuse)
            rec["need"][t] = period.need.reshape(groups, n)
            rec["left"][t] = period.left.reshape(groups, n)
            rec["on_hand"][t] = rows.on_hand.reshape(groups, n)
            rec["rejected"][t] = 0 if period.rejected is None else period.rejected.reshape(groups, n)
            rec["cost"][t] = period.cost.reshape(groups, n)
            stock_vol[t] = rec["on_hand"][t] @ p.volume  # pair_costs' utilisation starts from these sums too
            util = np.repeat(stock_vol[t] / p.capacity if p.limited else np.zeros(groups), n)
        return {"demand": demand, **rec, "need_vol": rec["need"] @ p.volume, "left_vol": rec["left"] @ p.volume,
                "stock_vol": stock_vol}

    def demand_paths(self, days: np.ndarray, reps: int, horizon: int, rng: np.random.Generator) -> np.ndarray:
        """(horizon, len(days) x reps, N) demand: ``reps`` fresh paths from each day."""
        out = np.empty((horizon, len(days) * reps, self.n), dtype=np.int64)
        proc = self._demand
        for s, day in enumerate(days):
            for r in range(reps):
                proc.reset(rng, int(day))
                out[:, s * reps + r] = proc.next_block(horizon)
        return out

    def pair_costs(self, states: FCStates, pairs: np.ndarray, fcs: np.ndarray, base: dict[str, np.ndarray],
                   candidates: np.ndarray, first: np.ndarray, act, horizon: int) -> np.ndarray:
        """Mean rollout cost (len(pairs), n_actions) of each candidate over its SKU's lead time
        plus ``horizon`` periods (module docstring)."""
        n, p, cfg = self.n, self.problem, self.problem.config
        groups = base["need"].shape[1]
        reps = groups // len(fcs)
        pair_of, action_of = np.nonzero(first == np.arange(self.n_actions)[None, :])  # distinct candidates
        row_pair = np.repeat(pair_of, reps)
        row_rep = np.tile(np.arange(reps), len(pair_of))
        sku = states.sku[pairs][row_pair]
        group = (states.state[pairs][row_pair] - fcs[0]) * reps + row_rep  # the base rollout each row follows
        rows = states.rows.take(states.state[pairs][row_pair] * n + sku)
        v = rows.volume
        refund_cost = p.unit_cost if (cfg.purchase_cost and cfg.overflow == "return") else None
        extra = np.zeros(len(sku))  # this period's warehouse-wide overflow cost of each row

        def refuse(need: np.ndarray, left: np.ndarray) -> np.ndarray | None:  # period t of the loop below
            extra[:] = 0.0
            if not p.limited:
                return None
            others_need = base["need_vol"][t, group] - v * base["need"][t, group, sku]
            others_left = base["left_vol"][t, group] - v * base["left"][t, group, sku]
            incoming = others_need + v * need
            free = p.capacity - (others_left + v * left)
            over = np.flatnonzero((incoming > free) & (incoming > 0.0))
            if not len(over):
                return None
            ratio = np.maximum(free[over], 0.0) / incoming[over]
            own = np.zeros(len(need), dtype=np.int64)
            own[over] = need[over] - np.floor(need[over] * ratio).astype(np.int64)
            others = base["need"][t, group[over]]  # (k, N), SKU i's column replaced below
            others_rej = others - np.floor(others * ratio[:, None]).astype(np.int64)
            others_rej[np.arange(len(over)), sku[over]] = 0
            extra[over] = cfg.overflow_cost * (own[over] + others_rej.sum(axis=1))
            if refund_cost is not None:
                extra[over] -= refund_cost[sku[over]] * own[over] + others_rej @ refund_cost
            return own

        total = np.zeros(len(sku))
        first_q = np.repeat(candidates[pair_of, action_of], reps)
        stop = p.lead_time[sku] + horizon  # the candidate's order arrives after period L_i - 1
        for t in range(int(stop.max())):
            if t == 0:
                q = first_q
            else:
                others_stock = base["stock_vol"][t - 1, group] - v * base["on_hand"][t - 1, group, sku]
                util = (others_stock + rows.stock_volume()) / p.capacity if p.limited else np.zeros(len(sku))
                q = rows.orders(act(rows.observations(util)))
            period = rows.step(q, base["demand"][t, group, sku], refuse)
            total += np.where(t < stop, period.cost + extra, 0.0)
        mean = total.reshape(len(pair_of), reps).mean(axis=1)
        table = np.full((len(pairs), self.n_actions), math.nan)
        table[pair_of, action_of] = mean
        return np.take_along_axis(table, first, axis=1)

