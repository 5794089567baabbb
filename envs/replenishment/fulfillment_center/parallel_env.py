"""PettingZoo ``fulfillment_center_v0``: one agent per SKU of the fulfilment centre.

    from envs import fulfillment_center_v0
    env = fulfillment_center_v0.parallel_env(n_skus=20)     # ParallelEnv
    aec = fulfillment_center_v0.env(n_skus=20)              # AEC, through parallel_to_aec
"""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium import spaces
from pettingzoo.utils.conversions import parallel_to_aec

from envs.core.config import ConfigError, check_choice
from envs.core.episode import step_after_end, step_before_reset
from envs.core.parallel import SharedSpaceParallelEnv
from envs.replenishment.fulfillment_center.config import FulfillmentConfig, Problem
from envs.replenishment.fulfillment_center.features import GLOBAL_FEATURES
from envs.replenishment.fulfillment_center.simulator import FulfillmentSimulator

OBS_BOUND = 1.0e9
REWARD_MODES = ("individual", "team", "normalised", "marginal", "priced")
# reward="priced": the capacity price lambda (in overflow costs per arriving unit of the mean
# unit volume) follows lambda <- clip(lambda + PRICE_STEP * (refused / arrived units of the
# period - PRICE_TARGET), 0, PRICE_MAX) after every period (CapacityPrice)
PRICE_STEP = 1.0
PRICE_TARGET = 0.002  # the refused fraction aimed at (the tuned heuristics refuse about 0.4%)
PRICE_MAX = 1.0


class FulfillmentCenterParallelEnv(SharedSpaceParallelEnv):
    """The fulfilment centre of ``FulfillmentCenter-v0`` with one agent per SKU.

    ## Description
    Same simulator, timing of events, costs and arguments as ``fulfillgym/FulfillmentCenter-v0``
    (``envs.replenishment.fulfillment_center.env``). Agent ``sku_i`` orders SKU i (its catalogue id is
    ``sku_ids[i]``). All agents share one
    observation space and one action space, so one policy can control any number of SKUs.

    ## Action space (every agent)
    ``action_type="discrete"``: ``Discrete(M)``, order ``order_multiples[a] * forecast_i``;
    ``"continuous"``: ``Box(-1, 1, (1,))``, order ``(a + 1) / 2 * max_multiple * forecast_i``;
    ``"level"``: ``Discrete(M')``, order up to ``level_multiples[a] * rate_i * (L_i + 1)``
    (rate_i: mean demand or forecast, ``level_basis``).
    (``action_type="order"`` is refused: order ranges differ by SKU.)

    ## Observation space (every agent)
    ``Box((F + G,), float32)``: the SKU's own row of the centralised env's feature matrix
    (F = 7 + P columns, in units of its mean demand) followed by the G = 5 shared features
    (capacity utilisation, day of week, day of year).

    ## Rewards
    ``reward="individual"`` (default): minus the SKU's own cost (holding, shortage,
    ordering, revenue) plus its share of the period's overflow cost, split by its share of
    the *volume that arrived* this period (a SKU that received nothing pays nothing).
    Individual rewards sum to the centralised env's reward. ``reward="team"``: every agent
    receives the centralised reward divided by N (the mean, so that the scale does not
    grow with N). ``reward="normalised"``: the individual reward divided by the SKU's
    long-run mean demand mu_i (cost per unit of demand), so fast and slow movers have
    rewards of one scale and a shared policy learns from both; SKUs are then weighted
    by 1 / mu_i, so the rewards no longer sum to the centralised one (benchmark with the
    centralised env's cost, as ``experiments.train`` does).

    Two rewards against the tragedy of the commons (the individual reward charges a SKU only
    its share of the overflow it adds to):
    ``reward="marginal"``: minus the SKU's own cost (holding, shortage, ordering, revenue)
    and ``overflow_cost`` per unit of overflow it causes *at the margin*: the period's
    refused units minus those refused had its receipt not arrived (the others' receipts,
    the free space and the pro-rata rule unchanged; ``FulfillmentSimulator.marginal_overflow_units``).
    A SKU is charged at least its own refused units and at most all of them, so the charges
    sum to *at least* the true overflow cost (more whenever removing one receipt would have
    let others' units in): the rewards no longer sum to the centralised reward.
    ``reward="priced"``: the individual reward minus a capacity price, ``lambda *
    overflow_cost * v_i / v_bar`` per unit of SKU i that arrived (v_i its unit volume, v_bar
    the demand-weighted mean unit volume), a Lagrange multiplier adapted by dual ascent
    after every period from the period's refused fraction of the arrived units:
    ``lambda <- clip(lambda + PRICE_STEP * (refused / arrived - PRICE_TARGET), 0, PRICE_MAX)``
    (1.0, 0.002, 1.0; :class:`CapacityPrice`). Each env (each copy of the training batch)
    holds its own lambda, starting at 0 at a ``reset(seed=...)`` with a seed and carried
    over episodes otherwise, so it is deterministic given the seed; it is not saved in
    checkpoints (a resumed run restarts it at 0 and it re-adapts within a few hundred periods).
    These rewards only shape training: ``infos``, the centralised env and every evaluation
    use the true cost.

    ## Starting state
    As ``FulfillmentCenter-v0``. ``reset(seed=..., options=None)``: there are no reset
    options; a non-empty dict is a one-line ``ValueError`` naming its first key (``SharedSpaceParallelEnv``).

    ## Episode end
    All agents are truncated together after ``episode_length`` periods. ``step()`` before
    the first ``reset()`` or after the end raises ``RuntimeError``; ``actions`` must hold one
    action for every live agent and no other key, each in the agent's action space (shape,
    dtype kind, bounds), else a one-line ``ValueError`` naming the agent.

    ``infos[agent]`` holds the SKU's ``demand``, ``sales``, ``lost``, ``order`` and
    ``overflow_units`` of the period.
    """

    metadata = {"name": "fulfillment_center_v0", "render_modes": ["rgb_array"], "is_parallelizable": True,
                "render_fps": 4}

    def __init__(self, render_mode: str | None = None, reward: str = "individual",
                 problem: Problem | None = None, **kwargs: Any):
        check_choice("env.reward", reward, REWARD_MODES)
        if problem is None:
            problem = FulfillmentConfig.from_kwargs(kwargs).build()
        if problem.config.action_type == "order":
            raise ConfigError("env.action_type: expected discrete, continuous or level for per-SKU agents "
                              "(order ranges differ by SKU), got 'order'")
        self._set_render_mode(render_mode)
        self.reward_mode = reward
        self.problem, self.config = problem, problem.config
        self.sim = FulfillmentSimulator(problem)
        # PettingZoo's naming convention; sku_ids[i] is the catalogue's id of agent sku_i
        self.possible_agents = [f"sku_{i}" for i in range(problem.n)]
        self.sku_ids = list(problem.catalogue.skus)
        self.agents: list[str] = []
        self.obs_dim = self.sim.n_features + len(GLOBAL_FEATURES)
        self._obs_space = spaces.Box(-OBS_BOUND, OBS_BOUND, shape=(self.obs_dim,), dtype=np.float32)
        if self.config.action_choices is not None:
            self._act_space = spaces.Discrete(len(self.config.action_choices))
        else:
            self._act_space = spaces.Box(-1.0, 1.0, shape=(1,), dtype=np.float32)
        self._rng = np.random.default_rng()
        self._frames: list = []
        self._rewards = SkuRewards(reward)


    def reset(self, seed: int | None = None, options: dict | None = None):
        self._check_reset_options(options)
        if seed is not None or self.sim.rng is None:
            self._rng = np.random.default_rng(seed)
            self._rewards.reset()
        self.sim.reset(self._rng)
        self.agents = list(self.possible_agents)
        self._frames = []
        return self._per_agent(agent_observations(self.sim)), {a: {} for a in self.agents}

    def step(self, actions: dict[str, Any]):
        if not self.agents:
            raise step_before_reset() if self.sim.rng is None else step_after_end(self.config.episode_length)
        action = self.action_array(actions)
        self.sim.step(self.sim.orders_from_actions(action))
        rewards_arr = self._rewards(self.sim)
        rows = agent_observations(self.sim)
        last = self.sim.last
        done = self.sim.t >= self.config.episode_length
        agents = self.agents
        obs = self._per_agent(rows)
        rewards = dict(zip(agents, rewards_arr.tolist(), strict=True))
        over = last.rejected if last.rejected is not None else np.zeros(self.problem.n, dtype=np.int64)
        infos = {a: {"demand": int(last.demand[i]), "sales": int(last.filled[i]), "lost": int(last.short[i]),
                     "order": int(last.order[i]), "overflow_units": int(over[i])}
                 for i, a in enumerate(agents)}
        terminations = dict.fromkeys(agents, False)
        truncations = dict.fromkeys(agents, done)
        if self.render_mode == "rgb_array":
            self._frames.append((self.sim.utilisation(), self.sim.on_hand[self._top()].copy()))
        if done:
            self.agents = []
        return obs, rewards, terminations, truncations, infos

    def render(self):
        if self.render_mode != "rgb_array":
            return None
        from envs.replenishment.fulfillment_center.render import render_fulfillment

        return render_fulfillment(self._frames[-120:], self.problem, self._top())

    def close(self) -> None:
        pass

    # -- helpers -------------------------------------------------------------------------
    def action_array(self, actions: dict[str, Any]) -> np.ndarray:
        """Per-agent actions as one array in agent order; one-line ``ValueError`` if invalid."""
        out = self._checked_actions(actions)
        return out if self.config.action_choices is not None else out.reshape(len(out)).astype(np.float64)

    def _per_agent(self, rows: np.ndarray) -> dict[str, np.ndarray]:
        return dict(zip(self.agents, rows, strict=True))

    def _top(self) -> np.ndarray:
        return np.argsort(-self.problem.mean_demand, kind="stable")[:5]


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def agent_observations(sim: FulfillmentSimulator) -> np.ndarray:
    """(N, F + G) float32: each SKU's feature row followed by the shared features."""
    glob = np.broadcast_to(sim.global_features(), (sim.n, len(GLOBAL_FEATURES)))
    return np.concatenate([sim.sku_features(), glob], axis=1)


def agent_rewards(sim: FulfillmentSimulator, mode: str, price: float = 0.0) -> np.ndarray:
    """(N,) rewards of the last period: minus per-SKU costs (overflow split by arrived
    volume), divided by mu_i for ``normalised``, or, for ``team``, minus the total cost / N
    for every agent; ``marginal``: the overflow charged at the margin instead of split;
    ``priced``: the individual reward minus ``price`` (lambda) x ``capacity_charges``."""
    if mode == "marginal":
        return -sim.sku_costs(overflow="marginal")
    costs = sim.sku_costs()
    if mode == "team":
        return np.full(sim.n, -float(costs.sum()) / sim.n)
    if mode == "normalised":
        return -costs / sim.problem.mean_demand
    if mode == "priced" and price:
        return -(costs + price * capacity_charges(sim))
    return -costs


def capacity_charges(sim: FulfillmentSimulator) -> np.ndarray:
    """(N,) the capacity charge of the last period at lambda = 1: ``overflow_cost * v_i /
    v_bar`` per unit of SKU i that arrived (received or refused), v_bar the demand-weighted
    mean unit volume."""
    p, last = sim.problem, sim.last
    v_bar = float(p.volume @ p.mean_demand) / float(p.mean_demand.sum())
    arrived = last.received if last.rejected is None else last.received + last.rejected
    return (p.config.overflow_cost / v_bar) * p.volume * arrived


class CapacityPrice:
    """The capacity price lambda of ``reward="priced"`` (module constants ``PRICE_*``):
    starts at 0; :meth:`update` after each period moves it by ``PRICE_STEP`` times the
    period's refused fraction of the arrived units minus ``PRICE_TARGET`` (dual ascent on
    the overflow constraint), clipped to [0, ``PRICE_MAX``]."""

    def __init__(self) -> None:
        self.value = 0.0

    def reset(self) -> None:
        self.value = 0.0

    def update(self, sim: FulfillmentSimulator) -> None:
        last = sim.last
        refused = 0 if last.rejected is None else int(last.rejected.sum())
        arrived = int(last.received.sum()) + refused
        rate = refused / arrived if arrived else 0.0
        self.value = min(max(self.value + PRICE_STEP * (rate - PRICE_TARGET), 0.0), PRICE_MAX)


class SkuRewards:
    """The per-SKU rewards of one env (one copy of the training batch): :func:`agent_rewards`
    of ``mode``, with the env's :class:`CapacityPrice` for ``priced`` (read, then advanced)."""

    def __init__(self, mode: str):
        check_choice("env.reward", mode, REWARD_MODES)
        self.mode = mode
        self.price = CapacityPrice() if mode == "priced" else None

    def reset(self) -> None:
        """A fresh start (a seeded reset): the price back to 0."""
        if self.price is not None:
            self.price.reset()

    def __call__(self, sim: FulfillmentSimulator) -> np.ndarray:
        if self.price is None:
            return agent_rewards(sim, self.mode)
        rewards = agent_rewards(sim, self.mode, self.price.value)
        self.price.update(sim)
        return rewards


def parallel_env(**kwargs: Any) -> FulfillmentCenterParallelEnv:
    """The ParallelEnv (keyword arguments: ``FulfillmentConfig`` fields, ``reward``, ``render_mode``)."""
    return FulfillmentCenterParallelEnv(**kwargs)


def env(**kwargs: Any):
    """The AEC version (PettingZoo's ``parallel_to_aec`` conversion of :func:`parallel_env`)."""
    return parallel_to_aec(parallel_env(**kwargs))
