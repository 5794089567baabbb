"""The multi-echelon network simulator: a tree of stocking nodes, N SKUs, vectorised.

Plain NumPy, no Gymnasium or PettingZoo imports: ``Network-v0`` (one central agent),
``network_v0`` (one agent per node) and the task's heuristics all drive
:class:`NetworkSimulator`. Arrays are indexed (node, SKU) with nodes in topological order
(:class:`envs.network.topology.Network`).

Timing of events in period t
----------------------------
1. **Arrivals.** Shipments due in period t arrive at every node (after step 4 instead with
   ``shipping=before_arrivals``, OR-Gym's timing). With backorders, units
   arriving at a leaf first fill its customer backlog. Where the on-hand volume would exceed
   the node's ``storage_capacity`` (times the capacity factor of a ``capacity_cut``
   scenario), every SKU's arrival is accepted pro rata (the same fraction of the units that
   need space, rounded down); refused units are discarded at ``overflow_cost`` each.
2. **Transshipment** (``transshipment.mode=balance``): leaves above their target send units
   to leaves below it (:class:`envs.network.config.TransshipmentConfig`), cost per unit;
   with lead time 0 they arrive at once, no more than fits a receiver's storage capacity
   (cut pro rata as in step 1; later they are arrivals of step 1).
3. **Orders.** Every node places one order per SKU on its upstream (the agents' actions,
   in units). Orders above the node's ``order_capacity`` (over its SKUs) are cut pro rata,
   rounded down. Fixed cost ``fixed_order_cost`` per positive order.
4. **Shipments.** The supplier ships every root's order in full (during a
   ``supplier_disruption`` scenario it confirms only ``floor((1 - size) q + U)`` units;
   refused units are not charged, nor is the fixed cost of an order refused entirely). An
   interior node ships from its on-hand stock (which includes this period's arrivals,
   except with ``shipping=before_arrivals``) to each child the child's request: the
   backlog it owes the child plus the new order (``internal=backorder``) or the new order
   only (``internal=lost``). If the stock is short, it is allocated by ``allocation`` (``allocation.py``);
   unshipped units stay owed (backorder) or are dropped at the node's ``penalty`` per unit
   (lost; with ``internal=lost`` the part of an order cut by the order capacity is lost
   the same way, and a root's at ``supplier_penalty``). A shipment made in period t
   arrives at the start of period t + l, l the child's lead time (random: uniform on
   [lead_time, lead_time_max], drawn per SKU; plus the extra periods of a
   ``lead_time_shock`` scenario). ``unit_cost`` of the receiving node is paid per unit
   shipped.
5. **Demand** at the leaves is served from on-hand stock (the single-SKU rule of
   :func:`envs.replenishment.dynamics.period`); unmet demand is lost or backordered.
6. **Costs**, at the end of the period, per node and SKU: ``holding_cost`` per unit on
   hand, ``pipeline_holding_cost`` per unit in transit into the node, ``penalty`` per unit
   lost (or per unit backordered) at a leaf, plus the fixed, unit, overflow and
   transshipment costs of steps 1-4 (transshipment paid by the sender); with ``revenue``,
   minus ``price`` per unit sold at a leaf or shipped by an interior node. The reward of
   the faces is minus the sum; ``last["cell_cost"]`` (M, N) and ``last["node_cost"]`` (M,)
   hold the parts.

Stress scenarios (``env.scenario``, ``envs.core.scenario``): a ``demand_surge`` scales the
leaves' demand draws in its window, a ``supplier_disruption`` cuts what the supplier ships
to the roots, a ``lead_time_shock`` delays every shipment made in the window (supplier and
internal), a ``capacity_cut`` multiplies every node's storage and order capacity by
``1 - size`` (nodes without a capacity are not affected).

So for a serial chain with internal and customer backorders, the period cost is the
Clark-Scarf cost: an order placed by stage 1 in period t covers demand over L_1 + 1 periods
and an upstream stage's over L_j periods (``agents.network.serial_optimum``).

Inventory positions: a node's *installation* position is its net stock plus its units in
transit plus what its parent owes it; its *echelon* position is the net stock and
in-transit units of every node of its subtree plus what its parent owes it.
"""

from __future__ import annotations

import numpy as np

from envs.core.episode import step_before_reset
from envs.network.allocation import allocate, fit_space
from envs.network.topology import Network
from envs.replenishment.demand.processes import DemandProcess
from envs.replenishment.dynamics import period

DEMAND_BLOCK = 8192
MIN_BLOCK_PERIODS = 16
COSTS = ("holding_cost", "pipeline_cost", "shortage_cost", "ordering_cost", "purchase_cost",
         "overflow_cost", "transshipment_cost", "revenue")
FLOWS = ("demand", "sales", "lost", "backlog", "ordered", "shipped", "received", "overflow_units",
         "transshipped", "internal_lost", "on_hand", "in_transit", "owed")
TOTALS = ("cost", *COSTS, *FLOWS)


def _expanded_catalogue(net: Network):
    """One catalogue entry per leaf-SKU pair (leaf-major), for one DemandProcess."""
    from envs.replenishment.demand.catalogue import Catalogue

    cat, n_leaves = net.catalogue, len(net.leaves)

    def tile(a):
        return np.tile(np.asarray(a), n_leaves)

    names = tuple(f"{net.nodes[k].name}:{s}" for k in net.leaves for s in cat.skus)
    history = None if net.history is None else net.history.reshape(len(net.history), -1)
    return Catalogue(skus=names, mean_demand=net.leaf_mean.ravel(), volume=tile(cat.volume),
                     unit_cost=tile(cat.unit_cost), price=tile(cat.price), lead_time=tile(cat.lead_time),
                     intermittency=tile(cat.intermittency), launch_day=tile(cat.launch_day),
                     retire_day=tile(cat.retire_day), history=history, dates=cat.dates)


class NetworkSimulator:
    """State and dynamics of a network (module docstring).

    State after :meth:`reset`: ``stock`` (M, N) net stock (< 0 only at leaves with
    backorders), ``owed`` (M, N) units each node's parent owes it, ``in_transit`` (M, N) units
    on the way to each node, the arrival ring ``pipe`` (W, M, N) (row ``(head + k) % W`` holds
    what arrives at the start of period t + k), the period ``t``; ``last`` is the last step's
    record (orders, shipments, demand, per node-SKU and per-node costs).

    ``copies=K`` (for tuning): K copies of every SKU side by side (N' = K N columns, copy c of
    SKU i in column c N + i) facing the same demand and lead-time draws (common random
    numbers), e.g. K candidate policies evaluated in one pass. Each copy has its own order
    and storage capacities."""

    def __init__(self, network: Network, copies: int = 1):
        self.net = net = network
        cfg = net.config
        self.copies = copies = int(copies)
        self.m, self.base_n, self.n = net.m, net.n, net.n * copies
        self.cfg = cfg
        self.leaves = net.leaves
        self.n_leaves = len(net.leaves)
        self.interior = [k for k in range(self.m) if net.children[k].size]
        self.roots = np.flatnonzero(net.parent < 0)
        self.lead = net.lead_time()
        self.lead_max = net.lead_time_max()
        self.random_lead = np.flatnonzero(self.lead_max > self.lead)
        scenario = cfg.scenario
        shock = scenario.max_extra_lead_time
        trans = cfg.transshipment.lead_time if cfg.transshipment.mode != "none" else 0
        self.width = int(max(self.lead_max.max(), trans) + shock + 1)
        a = net.arrays
        self.holding, self.pipe_holding = a["holding"], a["pipeline_holding"]
        self.penalty, self.unit_cost, self.price = a["penalty"], a["unit_cost"], a["price"]
        self.fixed = a["fixed_order_cost"]
        self.order_cap, self.storage_cap = a["order_capacity"], a["storage_capacity"]
        self.limited_order = np.flatnonzero(np.isfinite(self.order_cap))
        self.limited_storage = np.flatnonzero(np.isfinite(self.storage_cap))
        self._has_fixed = bool(np.any(self.fixed > 0))
        self._has_unit_cost = bool(np.any(self.unit_cost > 0))
        self.mean = np.tile(net.mean, (1, copies))
        self.leaf_mean = np.tile(net.leaf_mean, (1, copies))
        self.volume = np.tile(net.volume, copies)
        self.subtree = net.subtree.astype(np.int64)
        self.scale = np.maximum(self.mean, 1e-9)
        self.demand = DemandProcess(cfg.demand, _expanded_catalogue(net), replay=net.history is not None)
        self.block_periods = max(MIN_BLOCK_PERIODS, DEMAND_BLOCK // (self.n_leaves * self.base_n))
        self.rng: np.random.Generator | None = None
        self._block = np.empty((0, self.n_leaves, self.n), dtype=np.int64)
        self._pos = 0
        self._scenario = None
        self.last: dict | None = None

    # -- episode -------------------------------------------------------------------------
    def reset(self, rng: np.random.Generator, start_day: int = 0) -> None:
        """Start an episode; every random draw (demand, lead times) comes from ``rng``."""
        cfg, net = self.cfg, self.net
        self.rng = rng
        self.t = 0
        self.demand.reset(rng, start_day)
        self._block = np.empty((0, self.n_leaves, self.n), dtype=np.int64)
        self._pos = 0
        m, n = self.m, self.n
        self.pipe = np.zeros((self.width, m, n), dtype=np.int64)
        self.head = 0
        self.owed = np.zeros((m, n), dtype=np.int64)
        self.in_transit = np.zeros((m, n), dtype=np.int64)
        if cfg.initial_state == "mean":
            self.stock = np.rint(self.mean * (self.lead[:, None] + 1)).astype(np.int64)
        elif cfg.initial_state == "given":
            self.stock = np.broadcast_to(np.rint(net.arrays["initial_inventory"])[:, None], (m, n)).astype(np.int64)
        else:
            self.stock = np.zeros((m, n), dtype=np.int64)
        self.stock = self.stock.copy()
        self._scenario = None
        if cfg.scenario.active:
            self._scenario = cfg.scenario.clock(rng)
        self.last = None

    def _next_demand(self) -> np.ndarray:
        if self._pos >= len(self._block):
            if self.rng is None:
                raise step_before_reset()
            size = self.demand.next_size(self.block_periods)
            block = self.demand.next_block(size).reshape(size, self.n_leaves, self.base_n)
            self._block = np.tile(block, (1, 1, self.copies)) if self.copies > 1 else block
            if self.random_lead.size:
                lo, hi = self.lead[self.random_lead], self.lead_max[self.random_lead] + 1
                lead = self.rng.integers(lo[None, :, None], hi[None, :, None],
                                         size=(size, self.random_lead.size, self.base_n))
                self._lead_block = np.tile(lead, (1, 1, self.copies)) if self.copies > 1 else lead
            self._pos = 0
        row = self._pos
        self._pos += 1
        self._lead_row = row
        return self._block[row]

    # -- positions -------------------------------------------------------------------------
    def installation_position(self) -> np.ndarray:
        """(M, N): net stock + in transit + owed by the parent, per node."""
        return self.stock + self.in_transit + self.owed

    def echelon_position(self) -> np.ndarray:
        """(M, N): the subtree's net stock and in-transit units plus what the parent owes."""
        return self.subtree @ (self.stock + self.in_transit) + self.owed

    def pipeline_slots(self, slots: int) -> np.ndarray:
        """(slots, M, N): units arriving at the start of periods t + 1, t + 2, ... (after a step)."""
        rows = (self.head + np.arange(slots)) % self.width
        out = self.pipe[rows]
        if slots > self.width:
            out[self.width:] = 0
        return out

    # -- dynamics ---------------------------------------------------------------------------
    def step(self, orders: np.ndarray) -> dict[str, float]:
        """Advance one period with integer orders (M, N) >= 0 (units; module docstring).
        Returns the period's totals (``TOTALS``); the cost of every node-SKU is in
        ``last["cell_cost"]`` (M, N) and per node in ``last["node_cost"]``."""
        demand = self._next_demand()
        if self._scenario is not None:
            demand = self._scenario.scale_demand(self.t, demand)
        net, cfg, m = self.net, self.cfg, self.m
        sc = self._scenario
        t = self.t
        cap_factor = sc.capacity_factor(t) if sc is not None else 1.0
        cell = np.zeros((m, self.n))  # this period's cost of every node-SKU
        before = cfg.shipping == "before_arrivals"
        overflow = None
        if not before:
            arriving, overflow = self._arrive(cap_factor)
        # 2. transshipment
        moved = 0
        if cfg.transshipment.mode != "none":
            moved = self._transship(cell, cap_factor)
        trans_cost = float(cell.sum())
        # 3. orders
        raw = np.maximum(np.asarray(orders, dtype=np.int64), 0)
        q = raw
        if self.limited_order.size:
            q = raw.copy()
            for k in self.limited_order:
                qk = q[k].reshape(self.copies, self.base_n)  # a view: each copy has its own capacity
                total = qk.sum(axis=1)
                cap = self.order_cap[k] * cap_factor
                over = total > cap
                if over.any():
                    qk[over] = np.floor(qk[over] * (cap / total[over])[:, None]).astype(np.int64)
        # 4. shipments
        shipped = np.zeros_like(q)
        lost_internal = cfg.internal == "lost"
        internal = np.zeros((m, self.n), dtype=np.int64) if lost_internal else None
        roots = self.roots
        shipped[roots] = q[roots] if sc is None else sc.accept(t, q[roots])
        for u in self.interior:
            kids = net.children[u]
            request = raw[kids] if lost_internal else q[kids] + self.owed[kids]
            avail = np.maximum(self.stock[u], 0)
            asked = q[kids] if lost_internal else request
            if len(kids) == 1:
                x = np.minimum(asked, avail[None, :])
            elif cfg.allocation == "balanced":
                position = self.subtree[kids] @ (self.stock + self.in_transit)  # before this shipment
                x = allocate(avail, asked, "balanced", position, self.scale[kids])
            else:
                x = allocate(avail, asked, cfg.allocation)
            shipped[kids] = x
            self.stock[u] -= x.sum(axis=0)
            if lost_internal:
                internal[u] = (request - x).sum(axis=0)
            else:
                self.owed[kids] = request - x
        self._dispatch(shipped, sc)
        if before:
            arriving, overflow = self._arrive(cap_factor)
        # 5. demand at the leaves
        leaves = self.leaves
        on_hand, filled, short, left = period(self.stock[leaves], 0, 0, demand, cfg.backorders)
        self.stock[leaves] = on_hand
        # 6. costs, per node-SKU
        pos_stock = np.maximum(self.stock, 0)
        hold = self.holding[:, None] * pos_stock
        pipe_cost = self.pipe_holding[:, None] * self.in_transit
        shortage = np.zeros((m, self.n))
        shortage[leaves] = self.penalty[leaves, None] * short
        supplier_lost = 0
        if lost_internal:
            shortage += self.penalty[:, None] * internal
            cut = raw[roots] - shipped[roots]
            supplier_lost = int(cut.sum())
            shortage[roots] += cfg.supplier_penalty * cut  # each root pays for its own order
        cell += hold + pipe_cost + shortage
        costs = {"holding_cost": float(hold.sum()), "pipeline_cost": float(pipe_cost.sum()),
                 "shortage_cost": float(shortage.sum()), "ordering_cost": 0.0, "purchase_cost": 0.0,
                 "overflow_cost": 0.0, "transshipment_cost": trans_cost, "revenue": 0.0}
        if self._has_fixed:
            placed = q > 0
            if sc is not None:  # an order the supplier refused entirely costs no fixed cost
                placed[roots] = shipped[roots] > 0
            ordering = self.fixed[:, None] * placed
            cell += ordering
            costs["ordering_cost"] = float(ordering.sum())
        if self._has_unit_cost:
            purchase = self.unit_cost[:, None] * shipped
            cell += purchase
            costs["purchase_cost"] = float(purchase.sum())
        if overflow is not None:
            over = cfg.overflow_cost * overflow
            cell += over
            costs["overflow_cost"] = float(over.sum())
        if cfg.revenue:
            out_units = np.zeros((m, self.n))
            for u in self.interior:
                out_units[u] = shipped[net.children[u]].sum(axis=0)
            out_units[leaves] = filled
            revenue = self.price[:, None] * out_units
            cell -= revenue
            costs["revenue"] = float(revenue.sum())
        node_cost = cell.sum(axis=1)
        self.head = (self.head + 1) % self.width
        self.t += 1
        short_units = float(short.sum())
        internal_lost = np.zeros(m) if internal is None else internal.sum(axis=1).astype(np.float64)
        self.last = {"orders": q, "shipped": shipped, "demand": demand, "sales": filled, "short": short,
                     "node_cost": node_cost, "cell_cost": cell, "internal_lost": internal_lost}
        return {
            "cost": float(node_cost.sum()),
            **costs,
            "demand": float(demand.sum()),
            "sales": float(filled.sum()),
            "lost": 0.0 if cfg.backorders else short_units,
            "backlog": short_units if cfg.backorders else 0.0,
            "ordered": float(q.sum()),
            "shipped": float(shipped.sum()),
            "received": float(arriving.sum()),
            "overflow_units": 0.0 if overflow is None else float(overflow.sum()),
            "transshipped": float(moved),
            "internal_lost": float(internal_lost.sum()) + supplier_lost,
            "on_hand": float(pos_stock.sum()),
            "in_transit": float(self.in_transit.sum()),
            "owed": float(self.owed.sum()),
        }

    def _dispatch(self, shipped: np.ndarray, sc) -> None:
        """Put this period's shipments into the arrival ring."""
        extra = int(sc.extra_lead_time(self.t)) if sc is not None else 0
        self.in_transit += shipped
        if not self.random_lead.size:
            rows = (self.head + self.lead + extra) % self.width
            for k in range(self.m):
                self.pipe[rows[k], k] += shipped[k]
            return
        lead = np.broadcast_to(self.lead[:, None], shipped.shape).copy()
        lead[self.random_lead] = self._lead_block[self._lead_row]
        rows = (self.head + lead + extra) % self.width
        np.add.at(self.pipe, (rows, np.arange(self.m)[:, None], np.arange(self.n)[None, :]), shipped)

    def _arrive(self, cap_factor: float):
        """Step 1: this period's arrivals enter stock (storage capacity checked)."""
        arriving = self.pipe[self.head].copy()
        self.pipe[self.head] = 0
        self.in_transit -= arriving
        overflow = None
        if self.limited_storage.size:
            arriving, overflow = self._fit_storage(arriving, cap_factor)
        self.stock += arriving
        return arriving, overflow

    def _fit_storage(self, arriving: np.ndarray, cap_factor: float):
        """Step 1's arrivals accepted where nodes have a storage capacity, and the units refused (M, N)."""
        return fit_space(self.stock, arriving, self.storage_cap, self.limited_storage, cap_factor,
                         self.volume[: self.base_n], self.copies)

    def _transship(self, cell: np.ndarray, cap_factor: float = 1.0) -> int:
        """The balancing rule of ``TransshipmentConfig``; returns the units moved."""
        tc = self.cfg.transshipment
        leaves = self.leaves
        target = np.floor(tc.threshold * self.leaf_mean).astype(np.int64)
        surplus = np.maximum(self.stock[leaves] - target, 0)
        deficit = np.maximum(target - self.stock[leaves] - self.in_transit[leaves], 0)
        s_tot, d_tot = surplus.sum(axis=0), deficit.sum(axis=0)
        move = np.minimum(s_tot, d_tot)
        if not move.any():
            return 0
        get = np.floor(deficit * (move / np.maximum(d_tot, 1))[None, :]).astype(np.int64)
        if tc.lead_time == 0 and self.limited_storage.size:  # arriving at once: only what fits (step 1's rule)
            incoming = np.zeros_like(self.stock)
            incoming[leaves] = get
            get = fit_space(self.stock, incoming, self.storage_cap, self.limited_storage, cap_factor,
                            self.volume[: self.base_n], self.copies)[0][leaves]
        need = get.sum(axis=0)
        give = np.floor(surplus * (need / np.maximum(s_tot, 1))[None, :]).astype(np.int64)
        rest = need - give.sum(axis=0)
        for i in range(len(leaves)):  # the rounding remainder from donors with surplus left
            extra = np.minimum(rest, surplus[i] - give[i])
            give[i] += extra
            rest -= extra
        self.stock[leaves] -= give
        units = int(need.sum())
        cell[leaves] += tc.cost * give  # the donor pays
        if tc.lead_time == 0:
            self.stock[leaves] += get
        else:
            row = (self.head + tc.lead_time) % self.width
            self.pipe[row, leaves] += get
            self.in_transit[leaves] += get
        return units
