"""PettingZoo ``network_v0``: one agent per stocking node of a multi-echelon network.

    from envs import network_v0
    env = network_v0.parallel_env(n_skus=5)     # ParallelEnv
    aec = network_v0.env(n_skus=5)              # AEC, through parallel_to_aec

The env is a face over :class:`envs.network.simulator.NetworkSimulator` (the dynamics of
``fulfillgym/Network-v0``); observations and actions come from
:class:`envs.network.spaces.NetworkFaces`, so a node's numbers are those of the central view.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium import spaces
from gymnasium.utils import seeding
from pettingzoo.utils.conversions import parallel_to_aec

from envs.core.episode import step_after_end, step_before_reset
from envs.core.parallel import SharedSpaceParallelEnv
from envs.network.config import NetworkConfig
from envs.network.env import kpis, network_config
from envs.network.simulator import NetworkSimulator
from envs.network.spaces import OBS_BOUND, NetworkFaces
from envs.network.topology import Network


class NetworkParallelEnv(SharedSpaceParallelEnv):
    """Replenishment of a multi-echelon network with one agent per node (DC, MFCs, stages).

    ## Description
    The network, demand, costs, arguments and simulator of ``fulfillgym/Network-v0``
    (:class:`envs.network.env.NetworkEnv`): a tree of stocking nodes moves N SKUs from the
    external supplier to the leaves, where customers buy them. Here every node is an agent
    (agent name = node name; ``possible_agents`` in topological order, parents first) that
    orders its own N SKUs from its upstream node (or the supplier). All nodes act at once
    every period: the orders of the children of an interior node (a DC) are the requests it
    serves from its stock this same period, so when the DC is short the MFCs' orders compete
    through the ``allocation`` rule, and the DC's own order decides what it can ship later.
    Every agent has the same observation and action space, so one shared policy can drive
    every node (its node id, depth and leaf flag are part of its observation).

    ## Timing of events (period t)
    Those of ``Network-v0`` (``envs.network.simulator``): 1. arrivals (storage capacity
    checked); 2. lateral transshipment between leaves (if enabled); 3. every agent's order
    (cut to the node's ``order_capacity``); 4. shipments: the supplier ships the roots'
    orders, interior nodes ship their children's requests from on-hand stock by
    ``allocation``; unshipped requests are owed (``internal=backorder``) or lost; 5. customer
    demand at the leaves; 6. costs.

    ## Action space (every agent)
    ``NetworkFaces.node_action_space()``: one entry per SKU, by ``action_type``:
    ``discrete`` (default, ``MultiDiscrete([K] * N)``: order ``ceil(order_multiples[a] *
    mu)``, mu the node-SKU's mean demand per period through the node), ``level`` (order up to
    ``ceil(level_multiples[a] * mu * (L + 1))`` on the node's installation inventory
    position), ``continuous`` (``Box(-1, 1, (N,), float32)``: order ``ceil((a + 1) / 2 *
    max_multiple * mu)``) or ``order`` (``MultiDiscrete(q_max + 1)``: units, with the
    per-SKU ``q_max`` the largest over the nodes, so one space fits every node). An action
    outside the space (range, shape, dtype), a missing agent or an unknown key raises a
    one-line ``ValueError`` naming the agent; nothing changes then.

    ## Observation space (every agent)
    ``Box(-1e9, 1e9, (N * F + M + 2,), float32)`` for node k (topological position k):

    * ``[0, N F)``: node k's row ``features()[k]`` of the (M, N, F) feature tensor of
      ``envs.network.spaces`` (F = 8 + ``pipeline_slots``), flattened SKU-major: entry
      ``i * F + f`` is feature f of SKU i;
    * ``[N F, N F + M)``: the one-hot of k (the node id);
    * ``N F + M``: the node's depth (0 for a root, its parent's depth + 1 otherwise);
    * ``N F + M + 1``: 1.0 if the node is a leaf (faces customers), else 0.0.

    ``state()`` is the central observation of ``Network-v0`` (the whole feature tensor
    flattened, ``state_space``).

    ## Rewards
    ``reward="individual"`` (default): minus the node's own cost of the period
    (``sim.last["node_cost"][k]``: its holding on hand and in transit to it, shortage,
    fixed ordering, purchase, overflow and the transshipment it sends, minus its revenue
    with ``revenue``); the rewards add up to ``Network-v0``'s reward. ``reward="team"``:
    every agent receives minus the network's cost divided by M.

    ## Starting state
    As ``Network-v0`` (``initial_state``). ``reset(seed=s)`` seeds ``np_random`` as
    ``gymnasium.Env.reset`` does (without a seed the stream goes on), so the demand and
    lead times are those of ``Network-v0`` reset with seed s. There are no reset options:
    a non-empty dict is a one-line ``ValueError`` naming its first key (``SharedSpaceParallelEnv``).

    ## Episode end
    All agents are truncated together after ``episode_length`` periods; never terminated.
    ``step()`` before ``reset()`` or after the end raises a one-line ``RuntimeError``.

    ## Arguments
    The fields of :class:`envs.network.config.NetworkConfig` (``nodes`` is the topology,
    ``reward`` the reward mode), or ``config=`` / ``network=`` (a built
    :class:`envs.network.topology.Network`), plus ``render_mode`` (None only; the attribute
    exists for SuperSuit).

    ## KPIs in ``info`` (every agent)
    The period's KPIs of ``Network-v0`` (``envs.network.env.kpis``: cost components,
    demand, sales, lost, backlog, ordered, shipped, received, overflow, transshipped,
    internal lost, on hand, in transit, owed, ``fill_rate``, ``node_cost`` (M,), ``period``),
    plus the node's ``own_cost`` and ``own_ordered`` (its units ordered, after the capacity
    cut). At reset: ``period`` 0.

    ## Version history
    * v0: initial version.
    """

    metadata = {"name": "network_v0", "render_modes": [], "is_parallelizable": True}

    def __init__(self, render_mode: str | None = None, config: NetworkConfig | None = None,
                 network: Network | None = None, **kwargs: Any):
        if render_mode is not None:
            raise ValueError(f"render_mode: expected None (network_v0 has no rendering), got {render_mode!r}")
        self.render_mode = None
        if network is None:
            network = network_config(config, kwargs).build()
        elif config is not None or kwargs:
            raise ValueError("network: pass either a built network or config / keyword arguments, not both")
        self.network, self.config = network, network.config
        self.sim = NetworkSimulator(network)
        self.faces = f = NetworkFaces(self.sim)
        self.m, self.n = f.m, f.n
        self.possible_agents = list(network.names)
        self.agents: list[str] = []
        self._index = {a: k for k, a in enumerate(self.possible_agents)}
        leaf = np.zeros(self.m)
        leaf[network.leaves] = 1.0
        # per node: one-hot id, depth, is-leaf (the tail of its observation)
        self._node_part = np.concatenate([np.eye(self.m), network.depth[:, None].astype(np.float64), leaf[:, None]],
                                         axis=1).astype(np.float32)
        self.obs_dim = self.n * f.n_features + self.m + 2
        # One space object shared by every agent and returned on every call (what PettingZoo's
        # functools.cache idiom achieves, without a class-level cache keeping every env alive).
        self._obs_space = spaces.Box(-OBS_BOUND, OBS_BOUND, shape=(self.obs_dim,), dtype=np.float32)
        self._act_space = f.node_action_space()
        self.state_space = spaces.Box(-OBS_BOUND, OBS_BOUND, shape=(self.m * self.n * f.n_features,),
                                      dtype=np.float32)
        self.np_random: np.random.Generator | None = None
        self._length = self.config.episode_length


    # -- episode --------------------------------------------------------------------------
    def reset(self, seed: int | None = None, options: dict | None = None):
        self._check_reset_options(options)
        if seed is not None or self.np_random is None:  # as gymnasium.Env.reset (the same draws as Network-v0)
            self.np_random, _ = seeding.np_random(seed)
        self.sim.reset(self.np_random)
        self.agents = list(self.possible_agents)
        return self._observe(), {a: {"period": 0} for a in self.agents}

    def step(self, actions: dict[str, Any]):
        if not self.agents:
            raise step_before_reset() if self.sim.rng is None else step_after_end(self._length)
        f = self.faces
        a = self.action_array(actions)
        orders = f.orders(a, rows=np.arange(self.m))
        totals = kpis(self.sim.step(orders), self.sim)
        node_cost = self.sim.last["node_cost"]
        if self.config.reward == "team":
            rewards = dict.fromkeys(self.agents, -float(totals["cost"]) / self.m)
        else:
            rewards = {a: -float(node_cost[k]) for k, a in enumerate(self.agents)}
        ordered = self.sim.last["orders"].sum(axis=1)
        infos = {a: {**totals, "own_cost": float(node_cost[k]), "own_ordered": float(ordered[k])}
                 for k, a in enumerate(self.agents)}
        done = self.sim.t >= self._length
        obs = self._observe()
        terminations = dict.fromkeys(self.agents, False)
        truncations = dict.fromkeys(self.agents, done)
        if done:
            self.agents = []
        return obs, rewards, terminations, truncations, infos

    def state(self) -> np.ndarray:
        """The central observation (``Network-v0``'s): the (M, N, F) feature tensor flattened."""
        return self.faces.features().ravel()

    def render(self):
        return None

    def close(self) -> None:
        pass

    # -- helpers -------------------------------------------------------------------------
    def observations(self) -> np.ndarray:
        """float32 (M, N F + M + 2): every node's observation, one row per node."""
        feats = self.faces.features().reshape(self.m, -1)
        return np.concatenate([feats, self._node_part], axis=1)

    def _observe(self) -> dict[str, np.ndarray]:
        return dict(zip(self.possible_agents, self.observations(), strict=True))

    def action_array(self, actions: dict[str, Any]) -> np.ndarray:
        """Every node's action as one (M, N) array in agent order; a one-line ``ValueError``
        naming the agent for a missing, unknown or invalid action (nothing is changed)."""
        return self._checked_actions(actions)


def parallel_env(**kwargs: Any) -> NetworkParallelEnv:
    """The ParallelEnv (keyword arguments: ``NetworkConfig`` fields, ``render_mode``)."""
    return NetworkParallelEnv(**kwargs)


def env(**kwargs: Any):
    """The AEC version (PettingZoo's ``parallel_to_aec`` conversion of :func:`parallel_env`)."""
    return parallel_to_aec(parallel_env(**kwargs))
