"""PettingZoo ``courier_dispatch_v0``: one agent per courier of the same-day delivery fleet.

    from envs import courier_dispatch_v0
    env = courier_dispatch_v0.parallel_env(n_vehicles=10)     # ParallelEnv
    aec = courier_dispatch_v0.env(n_vehicles=10)              # AEC, through parallel_to_aec

The env is a face over :class:`envs.dispatch.simulator.DispatchSimulator`: it turns the
agents' actions into picks and the simulator's state into observations; the picks become timed
trips by :func:`envs.dispatch.routing.courier_trips.courier_trips`, which the simulator records
and books exactly as the trips of its own router (``DispatchSimulator.step(..., planned=...)``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium import spaces
from gymnasium.utils import seeding
from pettingzoo.utils.conversions import parallel_to_aec

from envs.core.config import ConfigError, check_choice, check_float
from envs.core.episode import step_before_reset
from envs.core.parallel import SharedSpaceParallelEnv
from envs.dispatch import observation as ob
from envs.dispatch.config import DispatchConfig
from envs.dispatch.env import position_scale
from envs.dispatch.generator import generate_day
from envs.dispatch.routing.courier_trips import EPS, courier_trips, direct_trip_ok
from envs.dispatch.simulator import DispatchSimulator

INVALID_ACTIONS = ("raise", "wait")
OWN_FEATURES = ("at_depot", "back_in", "trips_per_hour", "index")
COST_PARTS = ("cost", "cost_km", "cost_trips", "cost_late", "cost_failed")


def obs_dim(max_orders: int) -> int:
    """Length of a courier's ``observation``: K x 8 order rows, K shown flags, 8 fleet
    features, 4 own features, then a copy of its K + 1 action mask: 10 K + 13."""
    return max_orders * (ob.F + 1) + ob.G + len(OWN_FEATURES) + max_orders + 1


def split_agent_obs(obs: np.ndarray, max_orders: int):
    """(orders (..., K, 8), shown (..., K), fleet (..., 8), own (..., 4), mask (..., K + 1))
    of courier observations (rows may carry more columns after them: ignored)."""
    obs = np.asarray(obs)
    K, n_own = max_orders, len(OWN_FEATURES)
    shared = K * (ob.F + 1) + ob.G
    orders, shown, fleet = ob.unflatten(obs[..., :shared], K)
    own = obs[..., shared: shared + n_own]
    return orders, shown, fleet, own, obs[..., shared + n_own: shared + n_own + K + 1]


# -- the env ------------------------------------------------------------------------------
class CourierDispatchEnv(SharedSpaceParallelEnv):
    """Same-day delivery with one agent per courier: at each decision epoch every courier at
    the depot picks the order that starts its next trip, or waits.

    ## Description
    The day, orders, fleet, costs and simulator of ``fulfillgym/SameDayDelivery-v0``
    (:class:`envs.dispatch.env.SameDayDeliveryEnv`); only the decision differs. Agents
    ``courier_0 .. courier_{V-1}`` (V = ``n_vehicles``, required) all act at every decision
    epoch and finish together at the end of the day. All share one observation and one
    action space, so one policy can drive any fleet size.

    ## Timing of events (one step = one decision epoch at t = k * epoch_minutes)
    1. every courier sees the K most urgent pending orders, the fleet and itself;
    2. each courier at the depot by the departure time (t + ``dispatch_margin_minutes``) picks
       a shown order or waits; couriers away can only wait. Two couriers picking the same
       order: the lower index gets it, the other waits (``info["conflict"]``);
    3. trips (:func:`envs.dispatch.routing.courier_trips.courier_trips`): each pick seeds its
       courier's trip; the must-go orders (those that could not wait another epoch; all at the
       last epoch) are added by cheapest insertion over those trips and the waiting idle
       couriers (opening a trip costs its charge); then every trip grows by cheapest insertion
       of other pending orders while capacity allows, no stop gets later, the new order is on
       time and the return moves by at most ``grow_max_detour`` minutes per insertion. Must-go
       orders that fit nowhere stay pending (``unrouted``);
    4. the trips leave, their costs are booked (the reward), the clock moves to t + epoch and
       new orders are revealed. After the last epoch undispatched orders fail.

    ## Action space (every agent)
    ``Discrete(K + 1)``, K = ``max_orders``: a in 0..K-1 starts a trip with the a-th shown
    order (most urgent first, as in the Gymnasium env's observation); a = K waits. Only what
    ``action_mask`` allows is legal: a masked or out-of-range action is a one-line
    ``ValueError`` (``invalid_action="wait"``: a masked in-range action is a wait instead).

    ## Observation space (every agent)
    ``{"observation": Box(-10, 10, (10K + 13,), float32), "action_mask": MultiBinary(K + 1)}``.
    ``observation``: the epoch's order rows (K x 8), the shown flags (K) and the fleet
    features (8), all as in :mod:`envs.dispatch.observation` and shared by every courier,
    then the courier's own 4: at the depot (1/0), time until it is back / time scale, trips
    so far per hour of the day, its index / V; last a copy of its action mask (K + 1; so an
    exported policy can mask its logits from its one input). :func:`split_agent_obs` splits
    it. ``action_mask``: 1 for wait, and, for a courier at the depot, for every shown order
    whose direct trip is feasible (back by the shift end; on time with ``hard_deadlines``).

    ## Rewards
    A team reward: every courier receives minus the cost booked this epoch (km, trip charges
    and lateness of the trips leaving now; failed orders at the last epoch), the Gymnasium
    env's reward. One courier's return is minus the day's cost.

    ## Episode end
    All couriers terminate together after the last decision epoch. ``step()`` before
    ``reset()`` or after the end raises ``RuntimeError``; ``reset(options=...)``: no options
    exist; a non-empty dict is a one-line ``ValueError`` naming its first key (``SharedSpaceParallelEnv``). ``reset(seed=s)`` draws the same day as the Gymnasium env with seed s.

    ## Arguments
    The fields of :class:`envs.dispatch.config.DispatchConfig` (``n_vehicles`` must be an
    integer), ``render_mode`` (``rgb_array``: the Gymnasium env's map), ``grow_max_detour``
    (minutes one grown order may add to a trip's return, default 10) and
    ``invalid_action`` (``raise``, default, or ``wait``).

    ## KPIs in info (every agent)
    ``cost`` and its parts (``cost_km``, ``cost_trips``, ``cost_late``, ``cost_failed``) of the
    step, ``unrouted``, ``day`` (the day so far, the keys of ``DispatchSimulator.kpis``, as in
    the Gymnasium env), and the courier's own ``trip`` (day order ids it left with this epoch)
    and ``conflict`` (its pick went to a lower-index courier).

    ## Version history
    * v0: first version (FulfillGym 0.1).
    """

    metadata = {"name": "courier_dispatch_v0", "render_modes": ["rgb_array"], "is_parallelizable": True,
                "render_fps": 2}

    def __init__(self, render_mode: str | None = None, grow_max_detour: float = 10.0,
                 invalid_action: str = "raise", config: DispatchConfig | None = None, **kwargs: Any):
        self.config = c = config if config is not None else DispatchConfig.from_kwargs(kwargs)
        if c.n_vehicles is None:
            raise ConfigError("n_vehicles: the courier env needs a fleet (an integer >= 1), got None (unlimited)")
        self._set_render_mode(render_mode)
        self.grow_max_detour = check_float("env.grow_max_detour", grow_max_detour, 0.0, c.day_minutes)
        self.invalid_action = check_choice("env.invalid_action", invalid_action, INVALID_ACTIONS)
        self.sim = DispatchSimulator(c)
        self.pos_scale = position_scale(c)
        self.K, self.n_vehicles, self.obs_dim = c.max_orders, c.n_vehicles, obs_dim(c.max_orders)
        self.possible_agents = [f"courier_{i}" for i in range(c.n_vehicles)]
        self.agents: list[str] = []
        self._obs_space = spaces.Dict({
            "observation": spaces.Box(-ob.CLIP, ob.CLIP, shape=(self.obs_dim,), dtype=np.float32),
            "action_mask": spaces.MultiBinary(self.K + 1)})
        self._act_space = spaces.Discrete(self.K + 1)
        self._rng: np.random.Generator | None = None
        self._ids = np.zeros(0, dtype=np.int64)
        self._masks = np.zeros((c.n_vehicles, self.K + 1), dtype=np.int8)


    def reset(self, seed: int | None = None, options: dict | None = None):
        self._check_reset_options(options)
        if seed is not None or self._rng is None:  # as gymnasium.Env.reset seeds np_random (CRN with the Gym env)
            self._rng, _ = seeding.np_random(seed)
        self.sim.reset(generate_day(self.config, self._rng, seed=seed))
        self.agents = list(self.possible_agents)
        day = self.sim.kpis()
        return self._observe(), {a: {"day": dict(day)} for a in self.agents}

    def step(self, actions: dict[str, Any]):
        if not self.agents:
            raise step_before_reset() if self.sim.day is None else RuntimeError(
                "step() called after the episode ended; call reset() first")
        picks = self.action_array(actions)
        seeds, conflict = {}, np.zeros(self.n_vehicles, dtype=bool)
        for v in np.flatnonzero(picks < self.K):  # lower index first: it wins a contested order
            oid = int(self._ids[picks[v]])
            if oid in seeds.values():
                conflict[v] = True
            else:
                seeds[int(v)] = oid
        # the couriers' trips first; the simulator's router then places the must-go orders
        # left over (they fit on no idle courier alone, so it finds no place either: unrouted)
        result = self.sim.step(np.zeros(len(self.sim.pending), dtype=bool),
                               planned=courier_trips(self.sim, seeds, self.grow_max_detour))
        own_trip = dict(zip(result.trip_vehicles, result.trip_stops, strict=True))
        obs = self._observe()
        day = self.sim.kpis()
        parts = {k: float(getattr(result, k)) for k in COST_PARTS}
        infos = {a: {**parts, "unrouted": int(result.unrouted), "day": dict(day), "trip": own_trip.get(i, []),
                     "conflict": bool(conflict[i])} for i, a in enumerate(self.agents)}
        rewards = dict.fromkeys(self.agents, -parts["cost"])
        done = self.sim.done
        terminations = dict.fromkeys(self.agents, done)
        truncations = dict.fromkeys(self.agents, False)
        if done:
            self.agents = []
        return obs, rewards, terminations, truncations, infos

    def render(self):
        if self.render_mode != "rgb_array" or self.sim.day is None:
            return None
        from envs.dispatch.render import render_map

        return render_map(self.sim, self.pos_scale)

    def close(self) -> None:
        pass

    def plan(self):
        """The executed plan so far (one row per stop; see ``DispatchSimulator.plan``)."""
        return self.sim.plan()

    def action_masks(self) -> np.ndarray:
        """The current masks, (V, K + 1) bool, one row per courier."""
        return self._masks.astype(bool)

    # -- helpers -------------------------------------------------------------------------
    def action_array(self, actions: dict[str, Any]) -> np.ndarray:
        """Actions in courier order, masked choices turned into waits with
        ``invalid_action="wait"``; otherwise a one-line ``ValueError``."""
        out = self._checked_actions(actions).astype(np.int64)
        for i, a in enumerate(self.agents):
            if not self._masks[i, out[i]]:
                if self.invalid_action == "wait":
                    out[i] = self.K
                    continue
                away = self.sim.ready[i] > self.sim.depart_time + EPS
                what = "a courier away from the depot can only wait" if away \
                    else "no shown order there, or its direct trip is infeasible"
                raise ValueError(f"actions[{a!r}]: {out[i]} is masked ({what}); legal: "
                                 f"{np.flatnonzero(self._masks[i]).tolist()[:12]}")
        return out

    def _observe(self) -> dict[str, dict[str, np.ndarray]]:
        sim, c = self.sim, self.config
        rows, mask, fleet, ids = ob.observe(sim, self.pos_scale)
        self._ids = ids
        shared = ob.flatten(rows, mask, fleet)
        idle = sim.ready <= sim.depart_time + EPS
        own = np.stack([idle, np.maximum(0.0, sim.ready - sim.t) / ob.time_scale(c),
                        sim.vehicle_trips * 60.0 / c.day_minutes, np.arange(self.n_vehicles) / self.n_vehicles], axis=1)
        own = np.clip(own, -ob.CLIP, ob.CLIP).astype(np.float32)
        masks = np.zeros((self.n_vehicles, self.K + 1), dtype=np.int8)
        masks[:, self.K] = 1
        if len(ids) and not sim.done:
            masks[np.ix_(idle, np.arange(len(ids)))] = direct_trip_ok(sim, ids)
        self._masks = masks
        return {a: {"observation": np.concatenate([shared, own[i], masks[i]]).astype(np.float32),
                    "action_mask": masks[i].copy()} for i, a in enumerate(self.possible_agents)}


def parallel_env(**kwargs: Any) -> CourierDispatchEnv:
    """The ParallelEnv (keyword arguments: ``DispatchConfig`` fields, ``grow_max_detour``,
    ``invalid_action``, ``render_mode``)."""
    return CourierDispatchEnv(**kwargs)


def env(**kwargs: Any):
    """The AEC version (PettingZoo's ``parallel_to_aec`` conversion of :func:`parallel_env`)."""
    return parallel_to_aec(parallel_env(**kwargs))
