"""The lost-sales problem of Deep Controlled Learning (``agents.rl.dcl``): states, start policy
and CRN rollouts on the batched simulator.

* **States** are the env's observations (on-hand stock, then the pipeline oldest first):
  the full state of ``LostSales-v0``. They are sampled by running the current policy from the
  training start state (``env.training.initial_state``) for ``burn_in`` periods on ``rows``
  parallel trajectories, then taking one state every ``sample_every`` periods.
* **Actions** are those of the task's training env (``env.training.parameterisation``: an
  order-up-to level index, or the order), turned into orders by the task's model interface,
  exactly as at evaluation.
* **Scoring**: for every sampled state, each *distinct* order among the candidate actions
  (levels at or below the inventory position all order nothing) is rolled out ``reps``
  times for ``horizon`` periods on :class:`~envs.replenishment.lost_sales.simulator.BatchSimulator`,
  first the candidate's order and then the current policy, with the same demand paths for
  every candidate of the state (common random numbers). Equivalent candidates get the same
  cost, so the label is the lowest such action.
* **The current policy in rollouts** is tabulated once per generation: the classifier's order
  for every integer state with inventory position at most ``level_max`` (where the
  order-up-to action space can order anything; above it every action orders nothing), looked
  up by index. This is the classifier's own decision in every state, only evaluated once.
  Where a table would be too large (long lead times), or states fall outside it (the ``order``
  parameterisation, backorders), the classifier is called directly.
* **Start policy** (generation 0): the tuned heuristic ``start_policy`` (default
  ``capped_base_stock``, tuned on the tuning seeds).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from agents.rl.dcl import check_problem_options, first_occurrence
from envs.replenishment.lost_sales.simulator import BatchSimulator, initial_state

# Dense policy tables above this many cells are not built (the classifier is called instead).
MAX_TABLE_CELLS = 20_000_000
# Rows simulated at once when scoring (memory: a few hundred bytes per row).
CHUNK_ROWS = 1 << 18
START_POLICIES = ("base_stock", "capped_base_stock", "constant_order", "s_S", "myopic")


@dataclass
class LostSalesDCL:
    """DCL's view of a :class:`~agents.lost_sales.task.LostSalesTask` (module docstring)."""

    task: Any
    start_policy: str = "capped_base_stock"
    burn_in: int = 100
    sample_every: int = 5
    per_row: int = 8

    def __post_init__(self) -> None:
        config = self.task.config
        check_problem_options(self, START_POLICIES, config.scenario.active)
        self.config = config
        self.interface = self.task.model_interface(False)
        env = self.task.training_env_fn()()
        self.n_actions = int(env.action_space.n)
        env.close()
        self._start = None
        self.up_to = self.task.training.parameterisation == "order_up_to"
        self.bound = self.task.levels()[1] if self.up_to else self.config.q_max
        self.dim = self.config.obs_dim
        cells = (self.bound + 1) ** self.dim
        self.tabulate = not self.config.backorders and cells <= MAX_TABLE_CELLS
        self.radix = (self.bound + 1) ** np.arange(self.dim, dtype=np.int64)

    # -- policies as order functions ---------------------------------------------------------
    def start(self):
        if self._start is None:
            self._start = self.task.make_agent(self.start_policy)
        return self._start

    def order_fn(self, act):
        """Orders for raw observation rows under ``act`` (None: the start policy)."""
        if act is None:
            start = self.start()
            return lambda obs: np.asarray(start.orders(obs), dtype=np.int64)
        if not self.tabulate:
            return lambda obs: self.interface.orders(obs, act(obs))
        table = self._policy_table(act)

        def orders(obs: np.ndarray) -> np.ndarray:
            x = np.rint(obs).astype(np.int64)
            inside = (x.sum(axis=1) <= self.bound) & (x.min(axis=1) >= 0)
            q = table[np.where(inside, x @ self.radix, 0)]
            if self.up_to:
                return np.where(inside, q, 0)
            out = q.copy()
            if not inside.all():
                out[~inside] = self.interface.orders(obs[~inside], act(obs[~inside]))
            return out

        return orders

    def _policy_table(self, act) -> np.ndarray:
        """The classifier's order in every state with non-negative entries summing to at most
        ``bound``, indexed by ``state @ radix`` (other cells unused)."""
        points = simplex_points(self.dim, self.bound)
        table = np.zeros((self.bound + 1) ** self.dim, dtype=np.int64)
        obs = points.astype(np.float32)
        table[points @ self.radix] = self.interface.orders(obs, act(obs))
        return table

    # -- the protocol of agents.rl.dcl.Problem -------------------------------------------------
    def start_states(self, rows: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        mode = self.task.training.initial_state
        config = self.config if mode == self.config.initial_state else _with_initial_state(self.config, mode)
        first = [initial_state(config, rng) for _ in range(rows)]
        slots = max(config.lead_time - 1, 0)
        on_hand = np.array([f[0] for f in first], dtype=np.int64)
        pipeline = np.array([f[1] for f in first], dtype=np.int64).reshape(rows, slots)
        return on_hand, pipeline

    def sample(self, act, n: int, rng: np.random.Generator) -> np.ndarray:
        rows = -(-n // self.per_row)
        orders = self.order_fn(act)
        sim = BatchSimulator(self.config, *self.start_states(rows, rng))
        taken = []
        periods = self.burn_in + self.per_row * self.sample_every
        demand = self.config.demand.sample(rng, rows * periods).reshape(rows, periods)
        for t in range(periods):
            if t >= self.burn_in and (t - self.burn_in) % self.sample_every == 0:
                taken.append(sim.observation())
            sim.step(orders(sim.observation()), demand[:, t])
        states = np.stack(taken, axis=1).reshape(-1, self.dim)  # row-major: trajectory, then time
        return states[rng.permutation(len(states))[:n]]

    def observe(self, states: np.ndarray) -> np.ndarray:
        return states

    def candidate_orders(self, states: np.ndarray) -> np.ndarray:
        """The order (n, n_actions) each candidate action places in each state."""
        n = len(states)
        actions = np.tile(np.arange(self.n_actions), n)
        return self.interface.orders(np.repeat(states, self.n_actions, axis=0), actions).reshape(n, self.n_actions)

    def score(self, states: np.ndarray, act, horizon: int, reps: int, rng: np.random.Generator) -> np.ndarray:
        orders = self.order_fn(act)
        n, a_count = len(states), self.n_actions
        out = np.empty((n, a_count))
        per_chunk = max(1, CHUNK_ROWS // (a_count * reps))
        for s in range(0, n, per_chunk):
            block = states[s:s + per_chunk]
            out[s:s + per_chunk] = self._score_block(block, orders, horizon, reps, rng)
        return out

    def _score_block(self, states, orders, horizon, reps, rng) -> np.ndarray:
        n, a_count = len(states), self.n_actions
        q0 = self.candidate_orders(states)
        first = first_occurrence(q0)  # (n, A): index of the first action with the same order
        state_of, action_of = np.nonzero(first == np.arange(a_count)[None, :])  # distinct pairs
        demand = self.config.demand.sample(rng, n * reps * horizon).reshape(n, reps, horizon)
        row_state = np.repeat(state_of, reps)
        row_rep = np.tile(np.arange(reps), len(state_of))
        x = states[row_state].astype(np.int64)
        sim = BatchSimulator(self.config, x[:, 0], x[:, 1:])
        total = sim.step(np.repeat(q0[state_of, action_of], reps), demand[row_state, row_rep, 0])["cost"].astype(float)
        for t in range(1, horizon):
            total += sim.step(orders(sim.observation()), demand[row_state, row_rep, t])["cost"]
        pair_cost = total.reshape(len(state_of), reps).mean(axis=1)
        distinct = np.full((n, a_count), np.nan)
        distinct[state_of, action_of] = pair_cost
        return np.take_along_axis(distinct, first, axis=1)


def simplex_points(dim: int, bound: int) -> np.ndarray:
    """Every integer point of ``dim`` non-negative coordinates summing to at most ``bound``."""
    points = np.arange(bound + 1, dtype=np.int64)[:, None]
    for _ in range(dim - 1):
        room = bound - points.sum(axis=1)
        counts = room + 1
        base = np.repeat(points, counts, axis=0)
        offsets = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
        points = np.concatenate([base, offsets[:, None]], axis=1)
    return points


def _with_initial_state(config, mode: str):
    from dataclasses import replace

    return replace(config, initial_state=mode)
