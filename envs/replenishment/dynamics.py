"""One period of single-SKU inventory dynamics, written once for every replenishment env.

:func:`period` is the only implementation of the dynamics. It is elementwise and
uses only arithmetic and comparisons, so the same code runs on Python ints (the
``LostSales-v0`` env's fast scalar path) and on NumPy integer arrays (the lost-sales
``BatchSimulator``, which runs many replications or candidate policies side by side, and
the fulfilment centre, vectorised over SKUs). Tests check the paths give identical
trajectories.

Timing of events in period t (Zipkin 2008; Xin 2021):

1. the order q_t is placed (ordering cost K * [q_t > 0] + c * q_t);
   with L = 0 it arrives at once;
2. demand D_t is served from on-hand stock;
3. holding cost h is charged on stock left after demand, and the shortage cost p on
   each unit of demand not met (lost sales) or on each backordered unit (backorders);
4. the order placed at the start of period t-L+1 arrives (L >= 1).
"""

from __future__ import annotations

import numpy as np


def period(on_hand, before_demand, after_demand, demand, backorders: bool):
    """One period's inventory dynamics, elementwise on ints or integer arrays.

    Args:
        on_hand: stock at the start of the period (net inventory, < 0 = backlog).
        before_demand: units arriving before demand (the new order when L = 0).
        after_demand: units arriving after demand (the order placed L-1 periods ago).
        demand: this period's demand.
        backorders: whether unmet demand is backordered instead of lost.

    Returns:
        ``(next_on_hand, filled, short, left)``: stock at the start of the next period,
        demand met from stock this period, shortage units charged ``p`` (lost units, or
        the backlog after demand), and stock left after demand (charged ``h``).
    """
    # builtins on Python ints (the scalar env's fast path), ufuncs on arrays
    if isinstance(on_hand, np.ndarray):
        positive, smaller = np.maximum, np.minimum
    else:
        positive, smaller = max, min
    stock = on_hand + before_demand
    net = stock - demand
    left = positive(net, 0)
    filled = smaller(positive(stock, 0), demand)
    if backorders:
        return net + after_demand, filled, left - net, left
    return left + after_demand, filled, demand - filled, left
