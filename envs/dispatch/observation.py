"""The observation of a dispatch epoch (shared by the Gymnasium env, the heuristics and the
courier env): the K most urgent pending orders, padded, with a mask, and the fleet state.

Per order (row of ``orders``; padding rows are 0), in order of deadline:

| col | feature                                                             | scale          |
|-----|---------------------------------------------------------------------|----------------|
| 0,1 | x, y relative to the depot                                          | / pos. scale   |
| 2   | size                                                                | / capacity     |
| 3   | slack: deadline - (departure now + direct travel time)              | / time scale   |
| 4   | direct travel time from the depot                                   | / time scale   |
| 5   | must-go flag (1: dispatched whatever the action)                    |                |
| 6   | time until its window opens (max(0, earliest - t))                  | / time scale   |
| 7   | age (t - release)                                                   | / time scale   |

Fleet and clock (``fleet``): 0 the clock t / day length; 1 vehicles at the depot / fleet
size (1 with an unlimited fleet); 2 time until the next busy vehicle returns / time scale
(0 if none is away); 3 pending orders / K (can exceed 1: only K are shown); 4 pending size /
(capacity x fleet); 5 orders released in the last hour / mean hourly rate; 6 last-epoch flag;
7 fraction of epochs left. The time scale is 8 epochs (120 min by default); the position
scale is half the square's side (or the largest |coordinate| of the instance).
Every feature is clipped to [-10, 10].
"""

from __future__ import annotations

import numpy as np

from envs.dispatch.config import DispatchConfig

ORDER_FEATURES = ("x", "y", "size", "slack", "direct_time", "must_go", "opens_in", "age")
FLEET_FEATURES = ("clock", "idle_share", "next_return", "pending_share", "pending_load", "recent_rate",
                  "last_epoch", "epochs_left")
F, G = len(ORDER_FEATURES), len(FLEET_FEATURES)
CLIP = 10.0


def time_scale(config: DispatchConfig) -> float:
    return 8.0 * config.epoch_minutes


def visible_orders(sim) -> np.ndarray:
    """The pending orders shown (at most K), most urgent (earliest deadline) first."""
    pending = sim.pending
    order = np.lexsort((pending, sim.day.deadline[pending]))
    return pending[order[: sim.config.max_orders]]


def observe(sim, pos_scale: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(orders (K, F), mask (K,), fleet (G,), visible order ids) of the simulator's epoch."""
    c, d, t = sim.config, sim.day, sim.t
    K, ts = c.max_orders, time_scale(c)
    start, end = float(sim.epoch_times[0]), float(sim.shift_end)
    ids = visible_orders(sim)
    n = len(ids)
    rows = np.zeros((K, F), dtype=np.float32)
    mask = np.zeros(K, dtype=np.int8)
    if n:
        depart = sim.depart_time
        direct = sim.direct[ids]
        rows[:n, 0] = d.x[ids] / pos_scale
        rows[:n, 1] = d.y[ids] / pos_scale
        rows[:n, 2] = d.size[ids] / sim.capacity
        rows[:n, 3] = (d.deadline[ids] - depart - direct) / ts
        rows[:n, 4] = direct / ts
        rows[:n, 5] = sim.must_go(ids)
        rows[:n, 6] = np.maximum(0.0, d.earliest[ids] - t) / ts
        rows[:n, 7] = (t - d.release[ids]) / ts
        mask[:n] = 1
    fleet = np.zeros(G, dtype=np.float32)
    fleet[0] = (t - start) / max(end - start, 1e-9)
    if c.n_vehicles:
        away = sim.ready[sim.ready > sim.depart_time + 1e-9]
        fleet[1] = len(sim.idle_vehicles()) / c.n_vehicles
        fleet[2] = (away.min() - t) / ts if len(away) else 0.0
        fleet[4] = d.size[sim.pending].sum() / (sim.capacity * c.n_vehicles)
    else:
        fleet[1] = 1.0
        fleet[4] = d.size[sim.pending].sum() / sim.capacity / max(1, len(sim.pending))
    fleet[3] = len(sim.pending) / K
    released = d.release[: sim.next_order]
    mean_rate = max(np.mean(c.arrival_rates), 1e-9) if c.rules == "same_day" else max(len(d) / max((end - start) / 60, 1), 1e-9)
    fleet[5] = np.count_nonzero(released > t - 60.0) / mean_rate
    fleet[6] = float(sim.last_epoch)
    fleet[7] = (sim.n_epochs - 1 - sim.epoch) / max(sim.n_epochs - 1, 1)
    np.clip(rows, -CLIP, CLIP, out=rows)
    np.clip(fleet, -CLIP, CLIP, out=fleet)
    return rows, mask, fleet, ids


def flatten(rows: np.ndarray, mask: np.ndarray, fleet: np.ndarray) -> np.ndarray:
    return np.concatenate([rows.reshape(-1), mask.astype(np.float32), fleet]).astype(np.float32)


def unflatten(obs: np.ndarray, K: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(orders, mask, fleet) of a flat observation (batched: leading axes kept)."""
    obs = np.asarray(obs)
    lead = obs.shape[:-1]
    rows = obs[..., : K * F].reshape(*lead, K, F)
    mask = obs[..., K * F: K * F + K]
    fleet = obs[..., K * F + K:]
    return rows, mask, fleet


def split(obs, K: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(orders, mask, fleet) of a flat or dict observation."""
    if isinstance(obs, dict):
        return np.asarray(obs["orders"]), np.asarray(obs["mask"]), np.asarray(obs["fleet"])
    return unflatten(obs, K)
