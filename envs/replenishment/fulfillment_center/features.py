"""The observation features of the fulfilment centre, written once for the simulator and the row batch.

Per SKU (``SKU_FEATURES``, then the observed pipeline slots in arrival order; stock and demand
in units of the SKU's long-run mean demand) and per centre (``GLOBAL_FEATURES``: capacity
utilisation and the calendar). :class:`~envs.replenishment.fulfillment_center.simulator.FulfillmentSimulator`
(one centre) and :class:`~envs.replenishment.fulfillment_center.rows.SkuRows` (many (centre,
SKU) rows) fill their observations with :func:`write_features`.
"""

from __future__ import annotations

import math

import numpy as np

from envs.replenishment.fulfillment_center.config import Problem

SKU_FEATURES = ("on_hand", "pipeline", "forecast", "last_demand", "lead_time", "log_mean_demand",
                "volume_share")
GLOBAL_FEATURES = ("capacity_utilisation", "dow_sin", "dow_cos", "doy_sin", "doy_cos")


def static_features(problem: Problem) -> np.ndarray:
    """(3, N) float32: the constant per-SKU features (``lead_time``/7, ``log_mean_demand``,
    ``volume_share``: the SKU's share of the capacity at mean demand x N; 0 if unlimited)."""
    p = problem
    share = (p.volume * p.mean_demand * p.n / p.capacity) if p.limited else np.zeros(p.n)
    return np.stack([p.lead_time / 7.0, np.log10(p.mean_demand), share]).astype(np.float32)


def write_features(rows: np.ndarray, on_hand, pipe_total, forecast, last_demand, static: np.ndarray,
                   pipe_blocks: tuple[np.ndarray, ...], inv_mean: np.ndarray, inv_mean32: np.ndarray) -> None:
    """Fill ``rows`` (F, m) float32 with the per-SKU observation features of m columns (SKUs of
    one centre, or (copy, SKU) rows of a batch): ``SKU_FEATURES`` (stock and demand in units
    of the column's long-run mean demand: ``inv_mean`` = 1 / mean, ``inv_mean32`` its float32; ``static``
    (3, m) from :func:`static_features`), then the F - 7 observed pipeline slots in arrival
    order. ``pipe_blocks``: arrays (w_k, m) whose rows, stacked, are the units due at the end
    of periods t, t+1, ... (a ring buffer's two halves); with more rows than slots, the last
    slot holds everything due later. Contiguous writes only (the env's hot path)."""
    slots = len(rows) - len(SKU_FEATURES)
    # int64 -> float32 first, then a float32 product: faster than one mixed-type product
    for k, values in enumerate((on_hand, pipe_total, forecast, last_demand)):
        np.multiply(values.astype(np.float32), inv_mean32, out=rows[k])
    rows[4:7] = static
    width = sum(len(b) for b in pipe_blocks)
    if width <= slots:
        at = 7
        for block in pipe_blocks:
            if len(block):
                np.multiply(block.astype(np.float32), inv_mean32, out=rows[at:at + len(block)])
                at += len(block)
        rows[at:] = 0.0
    else:
        pipe = np.concatenate(pipe_blocks)
        np.multiply(pipe[: slots - 1].astype(np.float32), inv_mean32, out=rows[7:6 + slots])
        np.multiply(pipe[slots - 1:].sum(axis=0), inv_mean, out=rows[6 + slots],
                    casting="unsafe")


def calendar_angles(day):
    """Day-of-week and day-of-year angles (radians) of ``day`` (an int or an int array)."""
    return 2 * math.pi * (day % 7) / 7, 2 * math.pi * (day % 365) / 365
