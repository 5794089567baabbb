"""The NumPy restatement of OR-Gym InvManagement-v1 reproduces OR-Gym's own trajectories.

The fixture was recorded from or-gym 0.5.0 (see tests/network/data/README.md); OR-Gym is
not imported here.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from tests.network.orgym_reference import (
    ORGYM_V1_PARAMS,
    net_profit_identity,
    orgym_reference_episode,
)

FIXTURE = Path(__file__).parent / "data" / "orgym_invmanagement_v1.csv"
TOL = {"rtol": 1e-12, "atol": 1e-9}


def _load() -> dict[int, dict[str, np.ndarray]]:
    with FIXTURE.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    episodes: dict[int, dict[str, np.ndarray]] = {}
    for ep in sorted({int(r["episode"]) for r in rows}):
        sel = sorted((r for r in rows if int(r["episode"]) == ep), key=lambda r: int(r["period"]))
        episodes[ep] = {k: np.array([float(r[k]) for r in sel]) for k in sel[0]}
    return episodes


EPISODES = _load()


def _stack(ep: dict[str, np.ndarray], prefix: str, n: int) -> np.ndarray:
    return np.column_stack([ep[f"{prefix}_{i}"] for i in range(n)])


def test_fixture_shape():
    assert len(EPISODES) >= 3
    for ep in EPISODES.values():
        assert np.array_equal(ep["period"], np.arange(ORGYM_V1_PARAMS["periods"]))


@pytest.mark.parametrize("episode", sorted(EPISODES))
def test_reference_matches_orgym_every_row(episode):
    ep = EPISODES[episode]
    out = orgym_reference_episode(ep["demand"], _stack(ep, "action", 3))
    np.testing.assert_allclose(out["shipped"], _stack(ep, "order", 3), **TOL)
    np.testing.assert_allclose(out["inventory"], _stack(ep, "inv", 3), **TOL)
    np.testing.assert_allclose(out["pipeline"], _stack(ep, "pipeline", 3), **TOL)
    np.testing.assert_allclose(out["sales"], _stack(ep, "sales", 4), **TOL)
    np.testing.assert_allclose(out["lost"], _stack(ep, "lost", 4), **TOL)
    np.testing.assert_allclose(out["backlog"], _stack(ep, "backlog", 4), **TOL)
    np.testing.assert_allclose(out["profit"], ep["profit"], **TOL)
    np.testing.assert_allclose(out["profit"], ep["reward"], **TOL)


@pytest.mark.parametrize("episode", sorted(EPISODES))
def test_internal_prices_cancel(episode):
    ep = EPISODES[episode]
    out = orgym_reference_episode(ep["demand"], _stack(ep, "action", 3))
    np.testing.assert_allclose(net_profit_identity(out), out["profit_undiscounted"], atol=1e-9)
    disc = ORGYM_V1_PARAMS["alpha"] ** np.arange(len(ep["demand"]))
    np.testing.assert_allclose(out["profit"], disc * out["profit_undiscounted"], rtol=1e-12)


def test_fixture_exercises_the_edge_cases():
    """The recorded actions hit every clipping rule, so the match above is informative."""
    act = np.concatenate([_stack(e, "action", 3) for e in EPISODES.values()])
    order = np.concatenate([_stack(e, "order", 3) for e in EPISODES.values()])
    lost = np.concatenate([_stack(e, "lost", 4) for e in EPISODES.values()])
    req = np.trunc(np.maximum(act, 0))
    assert (act < 0).any() and (act != np.trunc(act)).any()  # floor at 0, truncation
    assert (req[:, 1] > 90).any() and (req[:, 2] > 80).any()  # capacity clipping
    assert ((order < req) & (req <= [100, 90, 80])).any()  # upstream-stock clipping
    assert (lost[:, 0] > 0).any() and (lost[:, 1:] > 0).any()  # lost sales, lost requests
    assert (order[:, 2] == np.minimum(req[:, 2], 80)).all()  # top stage: unlimited stock
