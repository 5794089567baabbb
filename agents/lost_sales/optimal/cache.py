"""On-disk cache of solutions.

Solutions are cached as ``.npz`` under ``$FULFILLGYM_CACHE`` (default
``~/.cache/fulfillgym/optimal/``), keyed by a hash of ``config.to_dict()``, the solver
version, ``tol`` and ``bound``. Unreadable cache files are ignored and rewritten.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import warnings
from pathlib import Path

import numpy as np

from agents.lost_sales.optimal.solution import OptimalSolution
from envs.replenishment.lost_sales.config import LostSalesConfig

SOLVER_VERSION = "optimal-v1"
CACHE_ENV = "FULFILLGYM_CACHE"
DEFAULT_CACHE = Path("~/.cache/fulfillgym/optimal")


_SCALARS = (
    "average_cost", "bound", "lower", "backorders", "lead_time", "iterations",
    "solve_seconds", "exact_bound", "exact", "bound_binding",
)  # fmt: skip


def cache_dir() -> Path:
    """``$FULFILLGYM_CACHE`` or ``~/.cache/fulfillgym/optimal``."""
    return Path(os.environ.get(CACHE_ENV) or DEFAULT_CACHE).expanduser()


def _cache_path(config: LostSalesConfig, tol: float, bound: int | None) -> Path:
    payload = {"config": config.to_dict(), "version": SOLVER_VERSION, "tol": tol, "bound": bound}
    digest = hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()
    return cache_dir() / f"{digest[:32]}.npz"


def _save(path: Path, solution: OptimalSolution) -> None:
    """Write atomically (temp file + rename); a failure to write is not an error."""
    arrays = {name: np.asarray(getattr(solution, name)) for name in _SCALARS}
    arrays.update(
        policy=solution.policy,
        states=solution.states,
        values=np.asarray(solution.values if solution.values is not None else []),
        cost_bounds=np.asarray(solution.cost_bounds),
        version=np.asarray(SOLVER_VERSION),
    )
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path.parent, suffix=".tmp", delete=False) as f:
            np.savez(f, **arrays)
        os.replace(f.name, path)
    except OSError as err:
        warnings.warn(f"could not write the optimal-policy cache {path}: {err}", stacklevel=3)


def _load(path: Path) -> OptimalSolution | None:
    """The cached solution, or None when missing, corrupt or from another solver version."""
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as data:
            if str(data["version"]) != SOLVER_VERSION:
                return None
            scalars = {name: data[name].item() for name in _SCALARS}
            solution = OptimalSolution(
                policy=data["policy"].astype(np.int64),
                states=data["states"].astype(np.int64),
                values=data["values"].astype(np.float64),
                cost_bounds=tuple(float(v) for v in data["cost_bounds"]),
                from_cache=True,
                **scalars,
            )
    except Exception:  # noqa: BLE001 - any unreadable file means "recompute"
        return None
    ok = len(solution.policy) == len(solution.states) > 0 and len(solution.cost_bounds) == 2
    return solution if ok and np.isfinite(solution.average_cost) else None
