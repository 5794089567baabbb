"""PettingZoo ``slotting_v0``: several putaway operators store inbound loads at the same time.

    from envs import slotting_v0
    env = slotting_v0.parallel_env(n_operators=3)     # ParallelEnv
    aec = slotting_v0.env(n_operators=3)              # AEC, through parallel_to_aec

The env is a face over :class:`envs.slotting.simulator.SlottingSimulator` built with
``operators=n_operators``; the observation rows are those of ``fulfillgym/Slotting-v0``
(:class:`envs.slotting.observation.ObservationBuilder`), one per operator for its own load.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium import spaces
from gymnasium.utils import seeding
from pettingzoo.utils.conversions import parallel_to_aec

from envs.core.config import check_choice, check_int
from envs.core.episode import step_before_reset
from envs.core.parallel import SharedSpaceParallelEnv
from envs.slotting.config import SlottingConfig
from envs.slotting.env import check_zones_arg
from envs.slotting.observation import OBS_MAPS, ObservationBuilder, RecentPicks
from envs.slotting.policies import abc_zones
from envs.slotting.simulator import SlottingSimulator

INVALID_ACTIONS = ("nearest", "raise")
MAX_OPERATORS = 1000
STEP_PARTS = ("cost", "pick_travel", "putaway_travel", "putaway_cost", "relocation_cost", "relocations", "tours",
              "lines")


class SlottingParallelEnv(SharedSpaceParallelEnv):
    """Dynamic storage assignment with several putaway operators working at once: every step,
    each operator stores the inbound load it holds; picking tours run in between.

    ## Description
    The warehouse, demand, stock, costs and simulator of ``fulfillgym/Slotting-v0``
    (:class:`envs.slotting.env.SlottingEnv`); several loads are put away per step. Agents
    ``operator_0 .. operator_{n-1}`` (n = ``n_operators``, default 3) each hold one inbound
    load: at reset operator i holds load i of the simulator's queue (the simulator is built
    with ``operators=n``, so between steps tours are played until the queue's first n loads
    each have a legal slot). All agents act at every step and finish together; they share one
    observation and one action space, so one policy can drive any number of operators.

    ## Timing of events (one step)
    1. every operator sees its own load and the warehouse (the state after the previous step);
    2. each picks a slot. The operators act in index order (``operator_0`` has priority): at
       its turn an operator's slot is checked against the state after the loads of the
       earlier operators of this step were stored. If the slot is illegal then, because it was
       masked in the operator's own observation (*invalid*; allowed only with
       ``invalid_action="nearest"``, else a one-line ``ValueError`` naming the agent, and
       nothing changes) or because an earlier operator just filled it (*conflict*), the load
       goes to ``sim.nearest_legal(chosen, legal_now)``, the slot nearest in distance rank
       among those still legal for it (ties: the closer one). If no legal slot remains for
       it, the load *waits*: the operator keeps it into the next step (it stays at the head of
       the simulator's queue: the waiting loads come first, in operator order) and the other
       operators take the next loads of the queue, in operator order;
    3. the simulator stores the loads (putaway travel depot -> slot -> depot), runs the
       reorder rule and plays tours until the operators' next loads can be stored (the
       simulator's timing). Operator 0 always stores (it has priority and its mask is never
       empty), so every step stores at least one load.

    ## Action space (every agent)
    ``Discrete(n_slots)``: the slot id (layout ids, as in the Gymnasium env's slot mode). An
    out-of-range or non-integer action is a one-line ``ValueError`` naming the agent. Only
    slot actions exist here.

    ## Observation space (every agent)
    ``{"observation": Box(-1, 10, (d,), float32), "action_mask": MultiBinary(n_slots)}``.
    ``observation``: the Gymnasium env's observation vector (``obs_map``, ``n_zones``: the
    table of :class:`envs.slotting.env.SlottingEnv`) for the operator's own load.
    ``action_mask``: the slots legal for its load in the current state (int8 0/1; free slots,
    or a slot of the same SKU with room for the whole load). Two operators may see the same
    free slot as legal: the priority rule above settles it.

    ## Rewards
    Operator i receives ``-(putaway cost of its own stored load (0 if it waits) + (pick
    travel + relocation cost of the step) / n_operators)``, so the rewards sum to minus the
    step's cost (the Gymnasium env's reward for the same tours and putaways).

    ## Episode end
    All operators terminate together when the simulator is done (``episode_loads`` loads put
    away; the last step may store more than needed); never truncated. ``step()`` before
    ``reset()`` or after the end raises ``RuntimeError``; ``reset(options=...)``: no options
    exist, a non-empty dict is a one-line ``ValueError`` naming its first key (``SharedSpaceParallelEnv``). ``reset(seed=s)`` seeds ``np_random`` as ``gymnasium.Env.reset`` does
    (``gymnasium.utils.seeding.np_random(s)``; without a seed the stream goes on) and calls
    ``sim.reset(np_random)``: the same warehouse and demand as the Gymnasium env with seed s.

    ## Arguments
    The fields of :class:`envs.slotting.config.SlottingConfig`, plus ``n_operators`` (integer
    in [1, ``n_skus``], default 3), ``n_zones`` (int or shares, as in the Gymnasium env: the
    zones of the observation's zone blocks), ``obs_map`` (``grid`` | ``zones``),
    ``invalid_action`` (``nearest``, default, or ``raise``) and ``render_mode`` (None or
    ``rgb_array``: the Gymnasium env's top view).

    ## ``info`` (every agent)
    The operator's own ``action`` (the slot it chose), ``slot`` (where its load went, -1 if it
    waits), ``sku``, ``conflict``, ``invalid`` and ``wait`` (0/1), ``own_putaway_cost``; the
    step's ``conflicts``, ``invalids`` and ``waits`` (counts over the operators) and cost
    parts ``cost``, ``pick_travel``, ``putaway_travel``, ``putaway_cost``,
    ``relocation_cost``, ``relocations``, ``tours``, ``lines``; always ``kpis``
    (:meth:`SlottingSimulator.kpis`). At reset: ``sku`` and ``kpis``.

    ## Version history
    * v0: first version (FulfillGym 0.1).
    """

    metadata = {"name": "slotting_v0", "render_modes": ["rgb_array"], "is_parallelizable": True, "render_fps": 4}

    def __init__(self, render_mode: str | None = None, n_operators: int = 3, n_zones=3, obs_map: str = "grid",
                 invalid_action: str = "nearest", config: SlottingConfig | None = None, **kwargs: Any):
        self.config = c = config if config is not None else SlottingConfig.from_kwargs(kwargs)
        self._set_render_mode(render_mode)
        self.n_operators = n = check_int("env.n_operators", n_operators, 1, min(MAX_OPERATORS, c.n_skus))
        self.obs_map = check_choice("env.obs_map", obs_map, OBS_MAPS)
        self.invalid_action = check_choice("env.invalid_action", invalid_action, INVALID_ACTIONS)
        self.sim = SlottingSimulator(c, operators=n)
        lay = self.sim.layout
        self.n_slots = lay.n_slots
        self.zone_shares = check_zones_arg(n_zones, lay.n_slots)
        self.n_zones = len(self.zone_shares)
        self.zones = abc_zones(lay, self.zone_shares)
        self._builder = ObservationBuilder(self.sim, self.zones, self.n_zones, self.obs_map)
        self._recent = RecentPicks(self.zones, self.n_zones)
        self.possible_agents = [f"operator_{i}" for i in range(n)]
        self.agents: list[str] = []
        self._obs_space = spaces.Dict({"observation": self._builder.space,
                                       "action_mask": spaces.MultiBinary(self.n_slots)})
        self._act_space = spaces.Discrete(self.n_slots)
        self.np_random: np.random.Generator | None = None
        self._pos = list(range(n))  # the queue index of each operator's load
        self._masks = np.zeros((n, self.n_slots), dtype=bool)
        self._started = False


    # -- episode --------------------------------------------------------------------------
    def reset(self, seed: int | None = None, options: dict | None = None):
        self._check_reset_options(options)
        if seed is not None or self.np_random is None:  # as gymnasium.Env.reset (CRN with the Gymnasium env)
            self.np_random, _ = seeding.np_random(seed)
        self.sim.reset(self.np_random)
        self._recent.clear()
        self._recent.remember(self.sim.reset_result)
        self._pos = list(range(self.n_operators))
        self.agents = list(self.possible_agents)
        self._started = True
        kpis = self.sim.kpis()
        return self._observe(), {a: {"sku": self.sim.queue[self._pos[i]], "kpis": dict(kpis)}
                                 for i, a in enumerate(self.agents)}

    def step(self, actions: dict[str, Any]):
        if not self.agents:
            raise step_before_reset() if not self._started else RuntimeError(
                "step() called after the episode ended; call reset() first")
        sim, n = self.sim, self.n_operators
        chosen = self.action_array(actions)
        skus = [sim.queue[p] for p in self._pos]
        legal = [sim.legal_mask(sku) for sku in skus]  # the current state (a relocation may have changed it)
        invalid = np.array([not legal[i][chosen[i]] for i in range(n)])
        if invalid.any() and self.invalid_action == "raise":
            i = int(np.flatnonzero(invalid)[0])
            a, s = self.possible_agents[i], int(chosen[i])
            raise ValueError(f"actions[{a!r}]: slot {s} is masked: it cannot take the load of SKU {skus[i]} "
                             f"(it holds SKU {int(sim.slot_sku[s])} with {int(sim.slot_units[s])} of "
                             f"{self.config.slot_capacity} units; see obs['action_mask'])")
        slots, conflict = np.full(n, -1, dtype=np.int64), np.zeros(n, dtype=bool)
        taken = np.zeros(self.n_slots, dtype=bool)
        for i in range(n):  # index order: operator_0 has priority
            # the queue's SKUs are distinct, so a slot filled this step is illegal for the later loads
            now = legal[i] & ~taken
            a = int(chosen[i])
            if now[a]:
                slots[i] = a
            else:
                conflict[i] = bool(legal[i][a])  # legal in its observation, just filled by an earlier operator
                if now.any():
                    slots[i] = sim.nearest_legal(a, now)
            if slots[i] >= 0:
                taken[slots[i]] = True
        queue_slots = [-1] * n
        for i, p in enumerate(self._pos):
            queue_slots[p] = int(slots[i])
        result = sim.step(queue_slots)
        stored = sorted(p for p in range(n) if queue_slots[p] >= 0)  # putaway_by_load is in queue order
        by_pos = dict(zip(stored, result.putaway_by_load.tolist(), strict=True))
        own = np.array([by_pos.get(p, 0.0) for p in self._pos])
        self._recent.remember(result)
        wait = slots < 0
        self._pos = self._next_positions(skus, wait)
        obs = self._observe()
        shared = (result.pick_travel + result.relocation_cost) / n
        rewards = {a: -float(own[i] + shared) for i, a in enumerate(self.agents)}
        parts = {k: float(getattr(result, k)) if isinstance(getattr(result, k), float) else int(getattr(result, k))
                 for k in STEP_PARTS}
        counts = {"conflicts": int(conflict.sum()), "invalids": int(invalid.sum()), "waits": int(wait.sum())}
        kpis = sim.kpis()
        infos = {a: {"action": int(chosen[i]), "slot": int(slots[i]), "sku": int(skus[i]),
                     "conflict": int(conflict[i]), "invalid": int(invalid[i]), "wait": int(wait[i]),
                     "own_putaway_cost": float(own[i]), **counts, **parts, "kpis": dict(kpis)}
                 for i, a in enumerate(self.agents)}
        done = bool(result.done)
        terminations = dict.fromkeys(self.agents, done)
        truncations = dict.fromkeys(self.agents, False)
        if done:
            self.agents = []
        return obs, rewards, terminations, truncations, infos

    def _next_positions(self, skus: list[int], wait: np.ndarray) -> list[int]:
        """The queue index of each operator's load after a step: a waiting operator keeps its
        load (at the head of the queue; a new one if a retirement cancelled it), the others
        take the remaining first ``n`` loads in operator order."""
        n = self.n_operators
        head = self.sim.queue[:n]
        pos = [-1] * n
        for i in np.flatnonzero(wait):
            if skus[i] in head:
                pos[i] = head.index(skus[i])
        free = iter(p for p in range(n) if p not in pos)
        return [p if p >= 0 else next(free) for p in pos]

    def render(self):
        if self.render_mode != "rgb_array" or not self._started:
            return None
        from envs.slotting.render import render_top_view

        return render_top_view(self.sim)

    def close(self) -> None:
        pass

    def held_skus(self) -> list[int]:
        """The SKU of the load each operator holds, in operator order."""
        return [int(self.sim.queue[p]) for p in self._pos]

    def action_masks(self) -> np.ndarray:
        """The current masks, ``(n_operators, n_slots)`` bool, one row per operator."""
        return self._masks.copy()

    # -- helpers -------------------------------------------------------------------------
    def action_array(self, actions: dict[str, Any]) -> np.ndarray:
        """The chosen slots in operator order; a one-line ``ValueError`` for a missing,
        unknown, out-of-range or non-integer action."""
        return self._checked_actions(actions).astype(np.int64)

    def _observe(self) -> dict[str, dict[str, np.ndarray]]:
        rows, legal = self._builder.observe(self.sim, self._pos, self._recent)
        self._masks = legal
        masks = legal.astype(np.int8)
        return {a: {"observation": rows[i], "action_mask": masks[i]} for i, a in enumerate(self.possible_agents)}


def parallel_env(**kwargs: Any) -> SlottingParallelEnv:
    """The ParallelEnv (keyword arguments: ``SlottingConfig`` fields, ``n_operators``,
    ``n_zones``, ``obs_map``, ``invalid_action``, ``render_mode``)."""
    return SlottingParallelEnv(**kwargs)


def env(**kwargs: Any):
    """The AEC version (PettingZoo's ``parallel_to_aec`` conversion of :func:`parallel_env`)."""
    return parallel_to_aec(parallel_env(**kwargs))
