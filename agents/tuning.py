"""One tuner for every task's heuristics: a successive-halving race on common random numbers.

:class:`CrnEvaluator` is the one evaluator of every task's tuning: it plays candidate
policies on the tuning replications and races them (:meth:`CrnEvaluator.race`).

A heuristic's parameters span a grid (one :class:`Axis` per parameter). Every candidate is
scored on the *same* tuning replications (seeds ``TUNE_SEED_BASE + r``, disjoint from the
evaluation seeds), so comparisons between candidates are paired. The task supplies
``evaluate(params, reps)``: the per-replication mean cost per period of each candidate
(``params`` maps each axis name to an array with one value per candidate) on the first
``reps`` tuning replications. The search:

1. *screen*: the whole grid (coarsened if it has more than ``max_screen`` points) on a few
   replications (sized to ``screen_budget`` candidate-replications, at least
   ``min_screen_reps``);
2. *refine*: if the grid was coarsened (every k-th point), the neighbourhood of the best
   points at half the step (points +-k/2 away), again at half of that, down to unit steps;
3. *race*: the ``keep[0]`` best candidates on ``max(min_screen_reps, n_reps // 4)``
   replications, then the ``keep[1]`` best of those on ``n_reps``; the lowest mean wins.

Between stages the best candidates by mean are kept, and so is any other whose paired cost
difference to the leader is not significant (within ``drop_z`` standard errors), up to
twice as many, so that a candidate that noise made look bad in a short screen survives.
*Anchors* (e.g. the parameter value that reduces a policy to a simpler one) are always
kept, and win ties, so the tuned policy is never worse on the tuning replications than
what an anchor stands for. If the winner lies on an edge of the grid that is not a
natural limit, the grid is extended and the race repeated (at most ``max_rounds`` rounds).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from agents.harness import ci95
from agents.seeds import TUNE_SEED_BASE
from envs.core.config import ConfigError

Evaluate = Callable[[dict[str, np.ndarray], int], np.ndarray]
Play = Callable[[list, np.ndarray], np.ndarray]


class Axis:
    """One parameter's candidate values (sorted, NumPy dtype kept) and the limits its grid
    may be extended to. ``step``: spacing of values added by :meth:`extend` (default 1 for
    integer axes, else the smallest spacing of the finite values)."""

    def __init__(self, name: str, values, low_limit: float = -math.inf, high_limit: float = math.inf,
                 step: float | None = None):
        self.name = name
        arr = np.asarray(values)
        self.values = np.unique(arr.astype(np.int64 if arr.dtype.kind in "iub" else np.float64))
        self.low_limit, self.high_limit = low_limit, high_limit
        finite = self.values[np.isfinite(self.values)]
        if step is None:
            step = 1 if self.integer else (float(np.diff(finite).min()) if len(finite) > 1 else 1.0)
        self.step = step

    @property
    def integer(self) -> bool:
        return self.values.dtype.kind == "i"

    def extend(self, side: int) -> bool:
        """Add values beyond one end (side -1: low, +1: high); False if at its limit."""
        v = self.values[np.isfinite(self.values)]
        count = max(4, int((v[-1] - v[0]) // self.step) // 2)
        ks = np.arange(1, count + 1)
        if side > 0:
            new = v[-1] + ks * self.step
            new = new[new <= self.high_limit + 1e-12]
        else:
            new = v[0] - ks * self.step
            new = new[new >= self.low_limit - 1e-12]
        if not len(new):
            return False
        if not self.integer:
            new = np.round(new, 10)
        self.values = np.unique(np.concatenate([self.values, new.astype(self.values.dtype)]))
        return True

    def index(self, value) -> int:
        """Position of ``value`` on the axis (ValueError if absent)."""
        hits = np.flatnonzero(np.isclose(self.values, value, rtol=0, atol=1e-9) | (self.values == value))
        if not len(hits):
            raise ValueError(f"{self.name}: {value!r} is not on the grid")
        return int(hits[0])


@dataclass(frozen=True)
class RaceSettings:
    """Budget of a :func:`race` (module docstring)."""

    n_reps: int
    screen_budget: int | None = None
    min_screen_reps: int = 8
    max_screen: int = 700
    keep: tuple[int, int] = (16, 6)
    drop_z: float = 4.0
    max_rounds: int = 3

    def __post_init__(self) -> None:
        if self.n_reps < 1 or self.min_screen_reps < 1:
            raise ValueError(f"tune: expected n_reps >= 1 and min_screen_reps >= 1, got {self.n_reps}, "
                             f"{self.min_screen_reps}")

    @property
    def race_reps(self) -> tuple[int, int]:
        return min(max(self.min_screen_reps, self.n_reps // 4), self.n_reps), self.n_reps

    def screen_reps(self, candidates: int) -> int:
        top = self.race_reps[0]
        if self.screen_budget is None:
            return top
        return int(np.clip(self.screen_budget // max(candidates, 1), min(self.min_screen_reps, top), top))


@dataclass
class RaceResult:
    """The winner's parameters (Python scalars), its mean tuning cost per period (slightly
    optimistic: the winner of a noisy race) and CI, and search statistics."""

    params: dict[str, Any]
    cost: float
    ci95: float
    stages: list[tuple[int, int]] = field(default_factory=list)
    evaluations: int = 0
    rounds: int = 0
    seconds: float = 0.0
    grid: dict[str, tuple] = field(default_factory=dict)

    def stats(self) -> dict[str, Any]:
        return {"seconds": round(self.seconds, 2), "rounds": self.rounds, "stages": self.stages,
                "candidate_reps": self.evaluations, "grid": self.grid}


def race(evaluate: Evaluate, axes: Sequence[Axis], settings: RaceSettings,
         valid: Callable[[dict[str, np.ndarray]], np.ndarray] | None = None,
         anchors: Sequence[Mapping[str, Any]] = ()) -> RaceResult:
    """Find the grid point of ``axes`` with the lowest mean cost (module docstring)."""
    start = time.perf_counter()
    axes = list(axes)
    if empty := [a.name for a in axes if not len(a.values)]:  # e.g. order quantities below a zero mean demand
        raise ConfigError(f"tuning: this instance leaves no candidate value of {', '.join(empty)} to search "
                          "(is its demand always zero?)")
    result, rounds, evaluations = None, 0, 0
    while True:
        rounds += 1
        result, edges = _race_once(evaluate, axes, settings, valid, anchors)
        evaluations += result.evaluations
        extended = [axes[j].extend(side) for j, side in edges]
        if not any(extended) or rounds >= settings.max_rounds:
            break
    result.rounds, result.evaluations = rounds, evaluations
    result.seconds = time.perf_counter() - start
    result.grid = {a.name: (_plain(a.values[0]), _plain(a.values[-1])) for a in axes}
    return result


def _race_once(evaluate: Evaluate, axes: list[Axis], settings: RaceSettings, valid, anchors):
    sizes = [len(a.values) for a in axes]
    count = 0

    def as_params(idx: np.ndarray) -> dict[str, np.ndarray]:
        return {a.name: a.values[idx[:, j]] for j, a in enumerate(axes)}

    def points(index_sets: list[np.ndarray]) -> np.ndarray:
        """Grid points (rows of axis indices) in itertools.product order, valid ones only."""
        mesh = np.meshgrid(*[np.asarray(i, dtype=np.int64) for i in index_sets], indexing="ij")
        grid = np.stack([m.reshape(-1) for m in mesh], axis=1) if mesh else np.empty((1, 0), dtype=np.int64)
        if valid is not None and len(grid):
            grid = grid[np.asarray(valid(as_params(grid)), dtype=bool)]
        return grid

    def score(idx: np.ndarray, reps: int) -> np.ndarray:
        nonlocal count
        count += len(idx) * reps
        return np.asarray(evaluate(as_params(idx), reps), dtype=np.float64).reshape(len(idx), reps)

    anchor_rows = [tuple(axes[j].index(a[axis.name]) for j, axis in enumerate(axes)) for a in anchors]

    def with_anchors(idx: np.ndarray) -> np.ndarray:
        present = set(map(tuple, idx.tolist()))
        extra = [r for r in anchor_rows if r not in present]
        return np.concatenate([np.array(extra, dtype=np.int64).reshape(-1, len(axes)), idx]) if extra else idx

    def survivors(idx: np.ndarray, costs: np.ndarray, keep: int) -> np.ndarray:
        means = costs.mean(axis=1)
        order = np.argsort(means, kind="stable")
        diff = costs - costs[order[0]]
        reps = costs.shape[1]
        se = diff.std(axis=1, ddof=1) / math.sqrt(reps) if reps > 1 else np.zeros(len(costs))
        close = diff.mean(axis=1) <= settings.drop_z * se + 1e-12
        chosen = [i for rank, i in enumerate(order) if rank < keep or close[i]][: 2 * keep]
        anchored = [i for i, row in enumerate(map(tuple, idx.tolist())) if row in anchor_rows and i not in chosen]
        return np.array(sorted(anchored) + chosen, dtype=np.int64)

    step = 1
    while step < max(sizes) and len(points([np.arange(0, n, step) for n in sizes])) > settings.max_screen:
        step += 1
    idx = with_anchors(points([np.unique(np.append(np.arange(0, n, step), n - 1)) for n in sizes]))
    reps = settings.screen_reps(len(idx))
    costs = score(idx, reps)
    stages = [(len(idx), reps)]
    while step > 1:  # refine around the best points, halving the step down to 1
        step = (step + 1) // 2
        near = set()
        for row in idx[survivors(idx, costs, settings.keep[0] // 2)]:
            ranges = [np.unique(np.clip([i - step, i, i + step], 0, n - 1)) for i, n in zip(row, sizes, strict=True)]
            near.update(map(tuple, points(ranges).tolist()))
        idx = with_anchors(np.array(sorted(near), dtype=np.int64).reshape(-1, len(axes)))
        reps = settings.screen_reps(len(idx))
        costs = score(idx, reps)
        stages.append((len(idx), reps))
    for keep, reps in zip(settings.keep, settings.race_reps, strict=True):
        pos = survivors(idx, costs, keep)
        idx, costs = idx[pos], costs[pos]
        if reps > costs.shape[1]:
            costs = score(idx, reps)
            stages.append((len(idx), reps))
    means = costs.mean(axis=1)
    # ties go to an anchor, then to the first point (argmin is stable)
    tie = [i for i, row in enumerate(map(tuple, idx.tolist())) if row in anchor_rows and means[i] == means.min()]
    win = tie[0] if tie else int(np.argmin(means))
    best = idx[win]
    edges = [(j, -1) for j, i in enumerate(best) if i == 0] + [(j, +1) for j, i in enumerate(best) if i == sizes[j] - 1]
    params = {a.name: _plain(a.values[best[j]]) for j, a in enumerate(axes)}
    return RaceResult(params, float(means[win]), ci95(costs[win]), stages, count), edges


def _plain(value) -> Any:
    return value.item() if isinstance(value, np.generic) else value


class CrnEvaluator:
    """Per-replication costs of candidate policies on the tuning replications ``r = 0 ..
    reps - 1`` (seeds ``TUNE_SEED_BASE + r``, common random numbers), the ``evaluate`` of a
    :func:`race`.

    ``play(policies, seeds)``: the ``(len(policies), len(seeds))`` mean costs per period of
    each policy on each seed (one replication per seed, each independent of the others).
    ``key(policy)``: a cache key per candidate, so that a candidate raced again on more
    replications plays only the new ones (None: no cache, every evaluation plays the first
    ``reps`` seeds with the fresh candidates ``make`` builds)."""

    def __init__(self, reps: int, play: Play, key: Callable[[Any], Any] | None = None):
        self.reps, self.play, self.key = int(reps), play, key
        self.seeds = TUNE_SEED_BASE + np.arange(self.reps)
        self.cache: dict[Any, list[float]] = {}

    def costs(self, policies: Sequence, reps: int) -> np.ndarray:
        """``(len(policies), reps)`` costs on the first ``reps`` tuning replications."""
        policies = list(policies)
        if self.key is None:
            return np.asarray(self.play(policies, self.seeds[:reps]), dtype=np.float64).reshape(len(policies), reps)
        keys = [self.key(p) for p in policies]
        todo: dict[Any, Any] = {}
        for policy, key in zip(policies, keys, strict=True):
            if len(self.cache.setdefault(key, [])) < reps and key not in todo:
                todo[key] = policy
        for start in sorted({len(self.cache[key]) for key in todo}):  # candidates played as far as each other together
            group = [key for key in todo if len(self.cache[key]) == start]
            more = np.asarray(self.play([todo[key] for key in group], self.seeds[start:reps]), dtype=np.float64)
            for key, row in zip(group, more.reshape(len(group), reps - start), strict=True):
                self.cache[key].extend(float(c) for c in row)
        return np.stack([np.asarray(self.cache[key][:reps]) for key in keys])

    def race(self, make: Callable[..., Any], axes: Sequence[Axis], settings: RaceSettings,
             valid: Callable[[dict[str, np.ndarray]], np.ndarray] | None = None,
             anchors: Sequence[Mapping[str, Any]] = ()) -> RaceResult:
        """:func:`race` over the candidates ``make(**params)`` (Python scalars) of the grid of ``axes``."""

        def evaluate(params: dict[str, np.ndarray], reps: int) -> np.ndarray:
            n = len(next(iter(params.values())))
            return self.costs([make(**{k: _plain(v[i]) for k, v in params.items()}) for i in range(n)], reps)

        return race(evaluate, axes, settings, valid, anchors)


def params_key(policy) -> tuple:
    """A :class:`CrnEvaluator` cache key for policies whose class and ``params()`` fix what they do."""
    return (type(policy).__name__, *sorted(policy.params().items()))
