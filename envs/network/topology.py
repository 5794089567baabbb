"""Building a :class:`Network` from its config: the tree in topological
order, the catalogue, each leaf's share of demand and the per-node arrays."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from envs.core.config import ConfigError

# No import of envs.network.config here: its NetworkConfig.build() imports this module
# (config types are named in comments).


def finite(value: float | None) -> float:
    return math.inf if value is None else float(value)


@dataclass(frozen=True, eq=False)
class Network:
    """A config built: nodes in topological order and per node-SKU arrays (M nodes, N SKUs).

    ``order[k]`` is the config index of node k; every array is indexed by the topological
    position k (parents before children)."""

    config: Any  # envs.network.config.NetworkConfig
    catalogue: Any
    nodes: tuple  # of envs.network.config.NodeConfig, in topological order
    parent: np.ndarray  # int64 (M,), -1 = the supplier
    children: tuple[np.ndarray, ...]  # per node, its children's positions (config order)
    leaves: np.ndarray  # positions of the leaves
    depth: np.ndarray  # int64 (M,): 0 = a root
    subtree: np.ndarray  # bool (M, M): subtree[k, j] = node j is k or below k
    leaf_mean: np.ndarray  # float64 (L, N): mean demand per period of each leaf-SKU
    mean: np.ndarray  # float64 (M, N): mean demand per period through each node (its leaves)
    volume: np.ndarray  # float64 (N,)
    q_max: np.ndarray  # int64 (M, N)
    arrays: dict = field(default_factory=dict)  # per node (M,) float64 cost / capacity arrays
    history: np.ndarray | None = None  # int64 (T, L, N): replayed leaf demand (csv), or None

    @property
    def m(self) -> int:
        return len(self.nodes)

    @property
    def n(self) -> int:
        return int(self.mean.shape[1])

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(node.name for node in self.nodes)

    def lead_time(self) -> np.ndarray:
        return np.array([n.lead_time for n in self.nodes], dtype=np.int64)

    def lead_time_max(self) -> np.ndarray:
        return np.array([n.lead_time_max or n.lead_time for n in self.nodes], dtype=np.int64)

    def is_serial(self) -> bool:
        """One root, and every node has at most one child."""
        return int((self.parent < 0).sum()) == 1 and all(len(c) <= 1 for c in self.children)


def topological(config: Any) -> list[int]:
    """Config indices of the nodes, parents before children (roots and siblings in config order)."""
    nodes = config.nodes
    order = [i for i, n in enumerate(nodes) if n.parent is None]
    k = 0
    while k < len(order):
        name = nodes[order[k]].name
        order += [i for i, n in enumerate(nodes) if n.parent == name]
        k += 1
    return order


def _catalogue(config: Any, leaf_names: list[str]):
    """The SKU catalogue and, for a CSV, the (leaf x SKU) demand history."""
    from envs.replenishment.demand.catalogue import Catalogue, synthetic_catalogue
    from envs.replenishment.demand.history import load_demand_csv

    if config.catalogue == "uniform":
        return Catalogue.uniform(config.n_skus, mean_demand=config.mean_demand), None
    if config.catalogue == "synthetic":
        return synthetic_catalogue(config.n_skus, np.random.default_rng(config.catalogue_seed)), None
    cat = load_demand_csv(config.demand_csv)
    if len(leaf_names) == 1:
        if config.n_skus is not None:
            if config.n_skus > cat.n:
                raise ConfigError(f"env.n_skus: expected at most {cat.n} (the SKUs in {config.demand_csv}), got {config.n_skus}")
            cat = cat.subset(config.n_skus)
        return cat, cat.history[:, None, :]
    # several leaves: ids <leaf>:<sku>, every pair present
    pairs = [s.split(":", 1) if ":" in s else None for s in cat.skus]
    if any(p is None or p[0] not in leaf_names for p in pairs):
        bad = next(s for s, p in zip(cat.skus, pairs, strict=True) if p is None or p[0] not in leaf_names)
        raise ConfigError(f"env.demand_csv: with several leaves every sku id must be <leaf>:<sku> with a leaf among "
                          f"{', '.join(leaf_names)}; got {bad!r}")
    skus = sorted({p[1] for p in pairs})
    index = {s: i for i, s in enumerate(cat.skus)}
    missing = [f"{leaf}:{s}" for leaf in leaf_names for s in skus if f"{leaf}:{s}" not in index]
    if missing:
        raise ConfigError(f"env.demand_csv: every leaf-SKU pair needs a history; {missing[0]!r} is missing")
    cols = np.array([[index[f"{leaf}:{s}"] for s in skus] for leaf in leaf_names])
    history = cat.history[:, cols]  # (T, L, N)
    total = history.sum(axis=1)
    mean = np.maximum(total.mean(axis=0), 0.01)
    first = cols[0]
    sku_cat = Catalogue(skus=tuple(skus), mean_demand=mean, volume=cat.volume[first], unit_cost=cat.unit_cost[first],
                        price=cat.price[first], lead_time=cat.lead_time[first], intermittency=np.ones(len(skus)),
                        launch_day=np.zeros(len(skus), dtype=np.int64),
                        retire_day=np.full(len(skus), 10**9, dtype=np.int64), history=total, dates=cat.dates)
    if config.n_skus is not None:
        if config.n_skus > sku_cat.n:
            raise ConfigError(f"env.n_skus: expected at most {sku_cat.n} (the SKUs in {config.demand_csv}), got {config.n_skus}")
        keep = np.sort(sku_cat.popularity_order()[: config.n_skus])
        sku_cat, history = sku_cat.subset(config.n_skus), history[:, :, keep]
    return sku_cat, history


def build_network(config: Any) -> Network:
    """The network of an ``envs.network.config.NetworkConfig``."""
    order = topological(config)
    nodes = tuple(config.nodes[i] for i in order)
    pos = {n.name: k for k, n in enumerate(nodes)}
    m = len(nodes)
    parent = np.array([pos[n.parent] if n.parent is not None else -1 for n in nodes], dtype=np.int64)
    children = tuple(np.flatnonzero(parent == k) for k in range(m))
    leaves = np.array([k for k in range(m) if children[k].size == 0], dtype=np.int64)
    depth = np.zeros(m, dtype=np.int64)
    for k in range(m):
        depth[k] = depth[parent[k]] + 1 if parent[k] >= 0 else 0
    subtree = np.eye(m, dtype=bool)
    for k in reversed(range(m)):
        if parent[k] >= 0:
            subtree[parent[k]] |= subtree[k]
    cat, history = _catalogue(config, [nodes[k].name for k in leaves])
    given = [nodes[k].demand_share for k in leaves]
    if history is not None and len(leaves) > 1:
        shares = history.sum(axis=(0, 2)) / max(history.sum(), 1)
        leaf_mean = np.maximum(history.mean(axis=0), 0.01)
    else:
        free = [s for s in given if s is None]
        rest = (1.0 - sum(s for s in given if s is not None)) / len(free) if free else 0.0
        shares = np.array([rest if s is None else s for s in given], dtype=np.float64)
        if len(leaves) > 1 and not np.any(shares > 0):
            raise ConfigError("env.nodes: every leaf has demand_share 0; expected some demand")
        leaf_mean = np.maximum(shares[:, None] * cat.mean_demand[None, :], 0.0)
    mean = subtree[:, leaves].astype(np.float64) @ leaf_mean
    lead = np.array([n.lead_time for n in nodes], dtype=np.int64)
    mean_floor = np.maximum(mean, 0.01)
    q_max = (np.full((m, cat.n), config.q_max, dtype=np.int64) if config.q_max is not None
             else np.ceil(4 * (lead[:, None] + 1) * mean_floor).astype(np.int64) + 10)
    holding = np.array([n.holding_cost for n in nodes])
    arrays = {
        "holding": holding,
        "pipeline_holding": np.array([n.pipeline_holding_cost if n.pipeline_holding_cost is not None
                                      else (holding[parent[k]] if parent[k] >= 0 else 0.0)
                                      for k, n in enumerate(nodes)]),
        "penalty": np.array([n.penalty for n in nodes]),
        "unit_cost": np.array([n.unit_cost for n in nodes]),
        "price": np.array([n.price for n in nodes]),
        "fixed_order_cost": np.array([n.fixed_order_cost for n in nodes]),
        "order_capacity": np.array([finite(n.order_capacity) for n in nodes]),
        "storage_capacity": np.array([finite(n.storage_capacity) for n in nodes]),
        "initial_inventory": np.array([n.initial_inventory or 0.0 for n in nodes]),
        "share": np.array([shares[list(leaves).index(k)] if k in leaves else 0.0 for k in range(m)]),
    }
    return Network(config=config, catalogue=cat, nodes=nodes, parent=parent, children=children, leaves=leaves,
                   depth=depth, subtree=subtree, leaf_mean=leaf_mean, mean=mean, volume=np.asarray(cat.volume, float),
                   q_max=q_max, arrays=arrays, history=history)
