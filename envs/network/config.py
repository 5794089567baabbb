"""Typed configuration of the multi-echelon network (``fulfillgym/Network-v0``, ``network_v0``).

A network is a tree of stocking nodes given in config (YAML): every node has one upstream
node (``parent``) or, for a root, the external supplier. Serial chains (supplier -> stage N ->
... -> stage 1) and divergent trees (supplier -> DC -> several MFCs) are both trees. Customer
demand arrives at the leaves (the MFCs); interior nodes (a DC) serve only their children.
:meth:`NetworkConfig.build` turns a config into a :class:`Network`: nodes in topological order
(parents before children), per node and SKU mean demands, cost arrays and the catalogue.

Every SKU moves through the same tree independently of the others, except where a node's
order capacity or storage capacity is shared by its SKUs. The simulator is vectorised over
nodes and SKUs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields, replace
from typing import Any

from envs.core.config import (
    MAX_COST,
    ConfigError,
    check_bool,
    check_choice,
    check_float,
    check_int,
    check_keys,
    check_work,
    typed,
)
from envs.replenishment.demand.processes import DemandModelConfig

CATALOGUES = ("synthetic", "uniform", "csv")
ALLOCATIONS = ("proportional", "priority", "balanced")
INTERNAL_RULES = ("backorder", "lost")
TRANSSHIPMENT_MODES = ("none", "balance")
ACTION_TYPES = ("discrete", "level", "continuous", "order")
INITIAL_STATES = ("mean", "zero", "given")
REWARDS = ("individual", "team")
SHIPPING = ("after_arrivals", "before_arrivals")
MAX_NODES = 64
MAX_SKUS = 100_000
MAX_LEAD_TIME = 100
MAX_NODE_SKUS = 100_000
"""Node-SKUs (nodes x SKUs) stepped each period: ~0.85 us each through Network-v0 (0.34 s and
480 MB at 400,000), so at most ~0.1 s and ~150 MB a step (docs/reliability.md)."""
MAX_NODE_SKU_PERIODS = 5_000_000
"""Node-SKU-periods of an episode (nodes x SKUs x episode_length): at most ~5 s an episode, which
the benchmark plays hundreds of times (tuning, replications, agents)."""
MAX_MULTIPLE = 1000.0
DEFAULT_MULTIPLES = (0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0, 8.0)
DEFAULT_LEVELS = (0.0, 0.5, 0.75, 0.9, 1.0, 1.1, 1.2, 1.35, 1.5, 1.75, 2.0, 2.5)


def _opt_float(name: str, value: Any, low: float = 0.0, high: float = MAX_COST) -> float | None:
    return None if value is None else check_float(name, value, low, high)


@dataclass(frozen=True)
class NodeConfig:
    """One stocking node of the tree (an entry of ``env.nodes``).

    Costs are per unit per period unless said otherwise; capacities are per node, shared by
    its SKUs (None = unlimited)."""

    name: str
    """Unique name (e.g. ``DC``, ``MFC1``; ``stage1`` for a serial chain's downstream stage)."""
    parent: str | None = None
    """The upstream node it orders from; None = the external supplier (a root)."""
    lead_time: int = 1
    """Periods from shipment by the upstream node (or the supplier) to arrival here, >= 1.
    A shipment made in period t arrives at the start of period t + lead_time."""
    lead_time_max: int | None = None
    """Random lead times: each shipment's lead time is uniform on [lead_time, lead_time_max]
    (drawn per SKU per shipment; orders may cross). None = deterministic."""
    holding_cost: float = 1.0
    """Per unit on hand at the end of a period."""
    pipeline_holding_cost: float | None = None
    """Per unit in transit into this node at the end of a period; None = the parent's
    ``holding_cost`` (0 for a root), the accounting of the Clark-Scarf model."""
    penalty: float = 0.0
    """Leaves: per unit of customer demand lost (lost sales) or per backordered unit per
    period (``backorders``). Interior nodes with ``internal=lost``: per unit of a child's
    order it could not ship. Interior nodes with internal backorders: unused (0)."""
    unit_cost: float = 0.0
    """Per unit shipped to this node by its upstream (roots: the purchase price paid to the
    supplier; interior links: a transfer price)."""
    price: float = 0.0
    """Per unit this node ships or sells: revenue (leaves: customer sales; other nodes: the
    transfer price charged to children). Counted only with ``revenue``."""
    fixed_order_cost: float = 0.0
    """Per SKU order placed (q > 0)."""
    order_capacity: float | None = None
    """Units this node can order in one period, over all its SKUs (orders above it are cut
    pro rata, rounded down); None = unlimited."""
    storage_capacity: float | None = None
    """Volume this node can hold on hand; arrivals that do not fit are refused pro rata and
    cost ``overflow_cost`` each; None = unlimited."""
    demand_share: float | None = None
    """Leaves: the fraction of each SKU's demand arriving here; None = an equal share of what
    the other leaves leave. Must be None for interior nodes."""
    initial_inventory: float | None = None
    """``initial_state=given``: units of each SKU on hand at the start; None = 0."""

    @classmethod
    def from_value(cls, where: str, value: Any) -> NodeConfig:
        if isinstance(value, cls):
            return value
        if not isinstance(value, Mapping):
            raise ConfigError(f"{where}: expected a mapping with name, parent, lead_time, ..., got {value!r}")
        check_keys(where, value, [f.name for f in fields(cls)])
        if "name" not in value:
            raise ConfigError(f"{where}.name: required (a unique node name)")
        node = cls(**dict(value))
        return node.validated(where)

    def validated(self, where: str) -> NodeConfig:
        if not isinstance(self.name, str) or not self.name.strip() or ":" in self.name:
            raise ConfigError(f"{where}.name: expected a non-empty name without ':', got {self.name!r}")
        if self.parent is not None and not isinstance(self.parent, str):
            raise ConfigError(f"{where}.parent: expected a node name or null (the supplier), got {self.parent!r}")
        lead = check_int(f"{where}.lead_time", self.lead_time, 1, MAX_LEAD_TIME)
        lead_max = self.lead_time_max
        if lead_max is not None:
            lead_max = check_int(f"{where}.lead_time_max", lead_max, lead, MAX_LEAD_TIME)
        share = self.demand_share
        if share is not None:
            share = check_float(f"{where}.demand_share", share, 0.0, 1.0)
        return replace(
            self, lead_time=lead, lead_time_max=lead_max,
            holding_cost=check_float(f"{where}.holding_cost", self.holding_cost, 0.0, MAX_COST),
            pipeline_holding_cost=_opt_float(f"{where}.pipeline_holding_cost", self.pipeline_holding_cost),
            penalty=check_float(f"{where}.penalty", self.penalty, 0.0, MAX_COST),
            unit_cost=check_float(f"{where}.unit_cost", self.unit_cost, 0.0, MAX_COST),
            price=check_float(f"{where}.price", self.price, 0.0, MAX_COST),
            fixed_order_cost=check_float(f"{where}.fixed_order_cost", self.fixed_order_cost, 0.0, MAX_COST),
            order_capacity=_opt_float(f"{where}.order_capacity", self.order_capacity, 0.0, 1e15),
            storage_capacity=_opt_float(f"{where}.storage_capacity", self.storage_capacity, 0.0, 1e15),
            demand_share=share,
            initial_inventory=_opt_float(f"{where}.initial_inventory", self.initial_inventory, 0.0, 1e15),
        )


@dataclass(frozen=True)
class TransshipmentConfig:
    """Lateral transshipment between leaves (MFCs), by a documented balancing rule.

    ``mode=balance``: every period, after arrivals and before orders, each leaf's *target*
    of a SKU is ``threshold`` periods of its mean demand (rounded down). A leaf's surplus is
    its on-hand stock above the target; its deficit is the target minus its stock and the
    units on the way to it. Per SKU, ``min(total surplus, total deficit)`` units are moved:
    each receiver gets its share in proportion to its deficit (rounded down), and donors give
    exactly that many in proportion to their surplus (the rounding remainder from the first
    donors with surplus left). The donor pays ``cost`` per unit; the units arrive after
    ``lead_time`` periods (0 = at once, before this period's demand; a receiver with a
    ``storage_capacity`` then gets only what fits, its share cut pro rata, rounded down)."""

    mode: str = "none"
    cost: float = 0.5
    lead_time: int = 0
    threshold: float = 1.0

    @classmethod
    def from_value(cls, value: Any) -> TransshipmentConfig:
        where = "env.transshipment"
        v = typed(cls, where, value)
        return cls(
            mode=check_choice(f"{where}.mode", v.mode, TRANSSHIPMENT_MODES),
            cost=check_float(f"{where}.cost", v.cost, 0.0, MAX_COST),
            lead_time=check_int(f"{where}.lead_time", v.lead_time, 0, MAX_LEAD_TIME),
            threshold=check_float(f"{where}.threshold", v.threshold, 0.0, 1000.0),
        )


DEFAULT_NODES = (
    {"name": "DC", "parent": None, "lead_time": 4, "holding_cost": 0.5},
    {"name": "MFC1", "parent": "DC", "lead_time": 1, "holding_cost": 1.0, "penalty": 19.0},
    {"name": "MFC2", "parent": "DC", "lead_time": 1, "holding_cost": 1.0, "penalty": 19.0},
    {"name": "MFC3", "parent": "DC", "lead_time": 2, "holding_cost": 1.0, "penalty": 19.0},
)


@dataclass(frozen=True)
class NetworkConfig:
    """Parameters of ``fulfillgym/Network-v0`` and ``network_v0`` (their keyword arguments).

    Every field is validated in ``__post_init__`` with a one-line :class:`ConfigError` naming
    it (``env.nodes[2].lead_time: ...``)."""

    nodes: tuple = DEFAULT_NODES
    """The tree, a list of :class:`NodeConfig` mappings (any order; names unique; one or more
    roots; no cycles)."""
    n_skus: int | None = 10
    """SKUs moving through the tree (with ``demand_csv``: the SKUs of the file, None = all)."""
    catalogue: str = "synthetic"
    """``synthetic`` (long-tail means from ``catalogue_seed``), ``uniform`` (every SKU with
    ``mean_demand``) or ``csv`` (set by ``demand_csv``)."""
    catalogue_seed: int = 0
    demand_csv: str | None = None
    """Long-format CSV ``date,sku,demand`` replayed at the leaves. With one leaf, SKU ids are
    plain; with several, each id is ``<leaf>:<sku>`` (every leaf-SKU pair present)."""
    demand: Any = None
    """The demand model (``DemandModelConfig``: Poisson / negative binomial, seasonality,
    promotions); None = stationary Poisson."""
    mean_demand: float = 5.0
    """``uniform`` catalogue: every SKU's total mean demand per period (over all leaves)."""
    backorders: bool = False
    """Customer demand at the leaves: lost (False) or backordered (True)."""
    internal: str = "backorder"
    """Unshipped orders of a child at an interior node: ``backorder`` (kept and shipped
    first later, no cost) or ``lost`` (dropped, ``penalty`` of the upstream node per unit)."""
    allocation: str = "proportional"
    """How an interior node shares scarce stock among its children's requests (backlog plus
    new order): ``proportional`` (pro rata to the requests, rounded down, leftovers one by
    one to the largest remainders), ``priority`` (children in config order, each served in
    full before the next) or ``balanced`` (units go one by one to the child with the lowest
    inventory position after its shipment, relative to its mean demand: water-filling)."""
    shipping: str = "after_arrivals"
    """When upstream nodes ship within a period: ``after_arrivals`` (default: from stock that
    includes this period's arrivals) or ``before_arrivals`` (from the stock at the start of
    the period; this period's arrivals can be forwarded next period only: OR-Gym's timing)."""
    supplier_penalty: float = 0.0
    """With ``internal=lost``: per unit of a root's order the supplier does not ship (cut by
    the root's order capacity, or by a supplier disruption); charged to the root."""
    discount: float = 1.0
    """Per-period discount of the ``discounted_profit`` KPI (OR-Gym reports
    sum_t discount^t profit_t with 0.97); rewards are never discounted by the env."""
    transshipment: Any = None
    """Lateral transshipment between leaves (:class:`TransshipmentConfig`); None = none."""
    revenue: bool = False
    """Count revenue: ``price`` per unit sold to customers at leaves and per unit shipped by
    interior nodes (the reward is then the profit). ``unit_cost`` is charged either way."""
    overflow_cost: float = 5.0
    """Per unit refused for lack of storage space."""
    episode_length: int = 365
    initial_state: str = "mean"
    """``mean``: every node starts with its mean demand over lead_time + 1 periods on hand and
    an empty pipeline; ``zero``: empty; ``given``: each node's ``initial_inventory``."""
    action_type: str = "discrete"
    """The agents' action per node and SKU: ``discrete`` (order ``order_multiples[a]`` times
    the node's mean demand), ``level`` (order up to ``level_multiples[a]`` times the node's
    mean demand over lead_time + 1 periods, on its installation inventory position),
    ``continuous`` (order ``a`` times the mean demand, a in [0, ``max_multiple``]) or
    ``order`` (the order quantity in units, in [0, ``q_max``])."""
    order_multiples: tuple = DEFAULT_MULTIPLES
    level_multiples: tuple = DEFAULT_LEVELS
    max_multiple: float = 8.0
    q_max: int | None = None
    """``order`` actions: the largest order of a node-SKU; None = 4 (lead_time + 1) x its
    mean demand, plus 10."""
    pipeline_slots: int = 8
    """Observed pipeline periods per node-SKU (padded, so one shared policy fits every node)."""
    reward: str = "individual"
    """``network_v0``: each node's reward is its own cost (``individual``) or the network's
    cost shared equally (``team``)."""
    scenario: Any = None
    """A stress scenario (``envs.core.scenario.Scenario`` or a mapping of its fields; None =
    ``kind=none``, no scenario)."""

    def __post_init__(self) -> None:
        e = "env"
        raw = self.nodes
        if isinstance(raw, Mapping) or not isinstance(raw, Sequence) or isinstance(raw, str) or not raw:
            raise ConfigError(f"{e}.nodes: expected a non-empty list of node mappings, got {raw!r}"[:200])
        if len(raw) > MAX_NODES:
            raise ConfigError(f"{e}.nodes: expected at most {MAX_NODES} nodes, got {len(raw)}")
        nodes = tuple(NodeConfig.from_value(f"{e}.nodes[{i}]", n) for i, n in enumerate(raw))
        object.__setattr__(self, "nodes", nodes)
        _check_tree(nodes)
        if self.n_skus is not None:
            object.__setattr__(self, "n_skus", check_int(f"{e}.n_skus", self.n_skus, 1, MAX_SKUS))
        cat = "csv" if self.demand_csv is not None else self.catalogue
        object.__setattr__(self, "catalogue", check_choice(f"{e}.catalogue", cat, CATALOGUES))
        if self.catalogue == "csv" and self.demand_csv is None:
            raise ConfigError(f"{e}.demand_csv: the csv catalogue needs a demand_csv path")
        if self.n_skus is None and self.catalogue != "csv":
            raise ConfigError(f"{e}.n_skus: expected an integer in [1, {MAX_SKUS}] (null only with demand_csv)")
        object.__setattr__(self, "catalogue_seed", check_int(f"{e}.catalogue_seed", self.catalogue_seed, 0))
        object.__setattr__(self, "demand", DemandModelConfig.from_value(self.demand))
        object.__setattr__(self, "mean_demand", check_float(f"{e}.mean_demand", self.mean_demand, 0.0, 1e9, strict_low=True))
        object.__setattr__(self, "backorders", check_bool(f"{e}.backorders", self.backorders))
        object.__setattr__(self, "internal", check_choice(f"{e}.internal", self.internal, INTERNAL_RULES))
        object.__setattr__(self, "allocation", check_choice(f"{e}.allocation", self.allocation, ALLOCATIONS))
        object.__setattr__(self, "shipping", check_choice(f"{e}.shipping", self.shipping, SHIPPING))
        object.__setattr__(self, "supplier_penalty", check_float(f"{e}.supplier_penalty", self.supplier_penalty, 0.0, MAX_COST))
        object.__setattr__(self, "discount", check_float(f"{e}.discount", self.discount, 0.0, 1.0, strict_low=True))
        object.__setattr__(self, "transshipment", TransshipmentConfig.from_value(self.transshipment))
        object.__setattr__(self, "revenue", check_bool(f"{e}.revenue", self.revenue))
        object.__setattr__(self, "overflow_cost", check_float(f"{e}.overflow_cost", self.overflow_cost, 0.0, MAX_COST))
        object.__setattr__(self, "episode_length", check_int(f"{e}.episode_length", self.episode_length, 1, 1_000_000))
        object.__setattr__(self, "initial_state", check_choice(f"{e}.initial_state", self.initial_state, INITIAL_STATES))
        object.__setattr__(self, "action_type", check_choice(f"{e}.action_type", self.action_type, ACTION_TYPES))
        for name in ("order_multiples", "level_multiples"):
            object.__setattr__(self, name, _multiples(f"{e}.{name}", getattr(self, name)))
        object.__setattr__(self, "max_multiple", check_float(f"{e}.max_multiple", self.max_multiple, 0.0, MAX_MULTIPLE, strict_low=True))
        if self.q_max is not None:
            object.__setattr__(self, "q_max", check_int(f"{e}.q_max", self.q_max, 1, 10**12))
        object.__setattr__(self, "pipeline_slots", check_int(f"{e}.pipeline_slots", self.pipeline_slots, 1, MAX_LEAD_TIME))
        object.__setattr__(self, "reward", check_choice(f"{e}.reward", self.reward, REWARDS))
        object.__setattr__(self, "scenario", _scenario(self.scenario))
        if self.n_skus is not None:
            self.check_work(self.n_skus)
        leaves = [n for n in nodes if not any(c.parent == n.name for c in nodes)]
        if self.transshipment.mode != "none" and len(leaves) < 2:
            raise ConfigError(f"{e}.transshipment.mode: needs at least two leaves (MFCs), the network has {len(leaves)}")

    def build(self):
        """The :class:`envs.network.topology.Network` this config describes (loads or
        generates the catalogue)."""
        from envs.network.topology import build_network

        network = build_network(self)
        self.check_work(network.catalogue.n)  # a CSV catalogue: its SKUs are known now
        return network

    def check_work(self, n_skus: int) -> None:
        """Refuse more node-SKUs per period or per episode than the limits (docs/reliability.md)."""
        given = {"env.n_skus": n_skus, "len(env.nodes)": len(self.nodes)}
        check_work("the node-SKUs of a period (nodes x n_skus)", len(self.nodes) * n_skus, MAX_NODE_SKUS, given)
        check_work("the node-SKU-periods of an episode (nodes x n_skus x episode_length)",
                   len(self.nodes) * n_skus * self.episode_length, MAX_NODE_SKU_PERIODS,
                   {**given, "env.episode_length": self.episode_length})


def _scenario(value: Any):
    """The stress scenario (``envs.core.scenario.Scenario``; None: ``kind=none``)."""
    from envs.core.scenario import Scenario

    return Scenario.from_value(value)


def _multiples(field_name: str, value: Any) -> tuple[float, ...]:
    if isinstance(value, str) or not isinstance(value, Sequence) or not value:
        raise ConfigError(f"{field_name}: expected a non-empty list of numbers in [0, {MAX_MULTIPLE:g}], got {value!r}")
    return tuple(check_float(f"{field_name}[{i}]", v, 0.0, MAX_MULTIPLE) for i, v in enumerate(value))


def _check_tree(nodes: tuple[NodeConfig, ...]) -> None:
    names = [n.name for n in nodes]
    for i, name in enumerate(names):
        if name in names[:i]:
            raise ConfigError(f"env.nodes[{i}].name: {name!r} is used twice; node names must be unique")
    for i, node in enumerate(nodes):
        if node.parent is not None and node.parent not in names:
            raise ConfigError(f"env.nodes[{i}].parent: unknown node {node.parent!r}; expected null (the supplier) "
                              f"or one of {', '.join(names)}")
    parent = {n.name: n.parent for n in nodes}
    for i, node in enumerate(nodes):
        seen, cur = {node.name}, node.parent
        while cur is not None:
            if cur in seen:
                raise ConfigError(f"env.nodes[{i}].parent: the parents of {node.name!r} form a cycle; expected a tree")
            seen.add(cur)
            cur = parent[cur]
    is_parent = {n.parent for n in nodes}
    for i, node in enumerate(nodes):
        if node.name in is_parent and node.demand_share is not None:
            raise ConfigError(f"env.nodes[{i}].demand_share: only leaves (nodes without children) face demand; "
                              f"{node.name!r} has children, expected null")
    shares = [n.demand_share for n in nodes if n.name not in is_parent and n.demand_share is not None]
    if sum(shares) > 1.0 + 1e-9:
        raise ConfigError(f"env.nodes: the leaves' demand_share values add up to {sum(shares):.4g}; expected at most 1")
