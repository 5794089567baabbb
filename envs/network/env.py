"""``fulfillgym/Network-v0``: one central agent orders on every link of a multi-echelon network."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import fields
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from envs.core.actions import check_action
from envs.core.config import ConfigError, check_keys
from envs.core.episode import check_reset_options, step_after_end, step_before_reset
from envs.network.config import NetworkConfig
from envs.network.simulator import NetworkSimulator
from envs.network.spaces import OBS_BOUND, NetworkFaces
from envs.network.topology import Network


def network_config(config: NetworkConfig | None, kwargs: Mapping[str, Any]) -> NetworkConfig:
    """The config of an env's keyword arguments (unknown keys refused in one line)."""
    if config is not None:
        if kwargs:
            raise ConfigError(f"env: pass either config or keyword arguments, got both ({', '.join(kwargs)})")
        return config
    check_keys("env", kwargs, [f.name for f in fields(NetworkConfig)])
    return NetworkConfig(**dict(kwargs))


def kpis(totals: dict[str, float], sim: NetworkSimulator) -> dict[str, Any]:
    """The step's totals plus fill rate and per-node costs (the ``info`` of both faces)."""
    demand = totals["demand"]
    totals["fill_rate"] = totals["sales"] / demand if demand else 1.0
    totals["node_cost"] = sim.last["node_cost"].copy()
    totals["period"] = sim.t
    return totals


class NetworkEnv(gym.Env):
    """Central replenishment of a multi-echelon network: supplier -> DC -> MFCs, or a chain.

    ## Description
    A tree of stocking nodes (``env.nodes``: each with a parent or the external supplier,
    a lead time, holding and shortage costs, order and storage capacities) moves N SKUs
    from the supplier to the leaves (micro-fulfilment centres), where customers buy them.
    Interior nodes (a distribution centre) serve their children, backordering what they
    cannot ship (or losing it), and share scarce stock by a documented allocation rule;
    leaves may transship to each other. One agent decides every node's order of every SKU
    each period. For one agent per node see the PettingZoo env ``envs.network_v0``. The
    dynamics are ``envs.network.simulator.NetworkSimulator``.

    ## Timing of events (period t)
    1. Arrivals (shipments made L periods ago); storage capacity checked.
    2. Lateral transshipment between leaves (if enabled).
    3. Orders (the action), cut to each node's order capacity.
    4. Shipments: the supplier ships roots' orders; interior nodes ship to children from
       on-hand stock by the allocation rule; unshipped requests are owed (or lost).
    5. Customer demand at the leaves, lost or backordered.
    6. Costs at the end of the period (below).
    An order placed by a leaf in period t arrives at the start of t + L, before that
    period's demand.

    ## Action space
    One entry per node and SKU, node-major (index ``k * N + i``, nodes in topological
    order: parents first), by ``action_type``: ``discrete`` (default:
    ``MultiDiscrete([K] * M N)``, order ``ceil(order_multiples[a] * mu)``, mu the node-SKU's
    mean demand per period), ``level`` (order up to ``ceil(level_multiples[a] * mu * (L + 1))``
    on the installation inventory position), ``continuous`` (``Box(-1, 1, (M N,))``, order
    ``ceil((a + 1) / 2 * max_multiple * mu)``) or ``order`` (``MultiDiscrete(q_max + 1)``, the
    units). An action outside the space raises a one-line ``ValueError``.

    ## Observation space
    ``Box(-1e9, 1e9, (M * N * F,), float32)``: the (M, N, F) feature tensor of
    ``envs.network.spaces`` flattened in C order (node, SKU, feature); F = 8 +
    ``pipeline_slots``.

    ## Rewards
    Minus the period's cost of the whole network: holding on hand, holding in transit
    (``pipeline_holding_cost``), shortage (``penalty`` per lost or backordered unit at the
    leaves, per lost internal unit with ``internal=lost``), fixed ordering, unit purchase
    costs, overflow and transshipment costs; with ``revenue``, plus the sales revenue (the
    reward is the profit).

    ## Episode end
    Truncated after ``episode_length`` periods; never terminated.

    ## Arguments
    The fields of :class:`envs.network.config.NetworkConfig` (``nodes`` is the topology),
    plus ``render_mode`` (None only). ``reset(options=...)`` accepts None or ``{}``.

    ## KPIs in ``info``
    Every entry of ``envs.network.simulator.TOTALS`` for the period (cost components,
    demand, sales, lost, backlog, ordered, shipped, received, overflow, transshipped,
    internal lost, on hand, in transit, owed), ``fill_rate``, ``node_cost`` (M,) and
    ``period``.

    ## Version history
    * v0: initial version.
    """

    metadata = {"render_modes": []}

    def __init__(self, render_mode: str | None = None, config: NetworkConfig | None = None,
                 network: Network | None = None, **kwargs: Any):
        if render_mode is not None:
            raise ValueError(f"render_mode: expected None (Network-v0 has no rendering), got {render_mode!r}")
        self.render_mode = None
        if network is None:
            network = network_config(config, kwargs).build()
        self.network, self.config = network, network.config
        self.sim = NetworkSimulator(network)
        self.faces = NetworkFaces(self.sim)
        f = self.faces
        self.observation_space = spaces.Box(-OBS_BOUND, OBS_BOUND, shape=(f.m * f.n * f.n_features,), dtype=np.float32)
        self.action_space = f.central_action_space()
        self._length = self.config.episode_length
        self._live = False

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        check_reset_options(options, "NetworkEnv")
        super().reset(seed=seed)
        self.sim.reset(self.np_random)
        self._live = True
        return self.faces.features().ravel(), {"period": 0}

    def step(self, action):
        if not self._live:
            raise step_before_reset() if self.sim.rng is None else step_after_end(self._length)
        f = self.faces
        a = check_action(self.action_space, action).reshape(f.m, f.n)
        return self.orders_step(f.orders(a))

    def orders_step(self, orders: np.ndarray, observe: bool = True):
        """Step with orders in units (M, N) (heuristics), bypassing the action space; with
        ``observe=False`` no observation is built (None is returned in its place)."""
        if not self._live:
            raise step_before_reset() if self.sim.rng is None else step_after_end(self._length)
        totals = self.sim.step(orders)
        truncated = self.sim.t >= self._length
        if truncated:
            self._live = False
        obs = self.faces.features().ravel() if observe else None
        return obs, -float(totals["cost"]), False, truncated, kpis(totals, self.sim)
