"""Replayed demand at the leaves (``env.demand_csv``): one leaf replays plain SKU ids; several
leaves replay ``<leaf>:<sku>`` ids; the stream is the file's, whatever the seed."""

from __future__ import annotations

import numpy as np
import pytest

from envs.core.config import ConfigError
from envs.network.config import NetworkConfig
from envs.network.simulator import NetworkSimulator
from tests.conftest import one_line_error

TWO = [{"name": "DC", "lead_time": 2}, {"name": "A", "parent": "DC", "penalty": 5.0},
       {"name": "B", "parent": "DC", "penalty": 5.0}]


def write(path, rows):
    path.write_text("date,sku,demand\n" + "".join(f"2024-01-{d + 1:02d},{s},{v}\n" for d, s, v in rows))
    return str(path)


def demand_stream(config: NetworkConfig, periods: int, seed: int) -> np.ndarray:
    sim = NetworkSimulator(config.build())
    sim.reset(np.random.default_rng(seed))
    out = []
    for _ in range(periods):
        sim.step(np.zeros((sim.m, sim.n), dtype=np.int64))
        out.append(sim.last["demand"].copy())
    return np.stack(out)


def test_one_leaf_replays_plain_ids(tmp_path):
    rows = [(d, s, (3 * d + k) % 7) for d in range(20) for k, s in enumerate(("X", "Y"))]
    path = write(tmp_path / "d.csv", rows)
    cfg = NetworkConfig(nodes=[{"name": "DC", "lead_time": 2}, {"name": "A", "parent": "DC", "penalty": 1.0}],
                        demand_csv=path, n_skus=None, episode_length=20)
    first, second = demand_stream(cfg, 20, 0), demand_stream(cfg, 20, 99)
    assert np.array_equal(first, second)
    expected = np.array([[[(3 * d + k) % 7 for k in range(2)]] for d in range(20)])
    assert np.array_equal(first, expected)


def test_several_leaves_replay_their_own_columns(tmp_path):
    rows = [(d, f"{leaf}:S{k}", d * (k + 1) + (10 if leaf == "B" else 0)) for d in range(15)
            for leaf in ("A", "B") for k in range(2)]
    cfg = NetworkConfig(nodes=TWO, demand_csv=write(tmp_path / "d.csv", rows), n_skus=None, episode_length=15)
    got = demand_stream(cfg, 15, 3)
    for d in range(15):
        assert np.array_equal(got[d], [[d, 2 * d], [d + 10, 2 * d + 10]])
    net = cfg.build()
    assert net.catalogue.skus == ("S0", "S1") and np.allclose(net.leaf_mean.sum(axis=0), net.catalogue.mean_demand)


@pytest.mark.parametrize(("rows", "needle"), [
    ([(0, "S0", 1), (0, "S1", 2)], "<leaf>:<sku>"),
    ([(0, "A:S0", 1), (0, "C:S0", 2)], "<leaf>:<sku>"),
    ([(0, "A:S0", 1), (0, "A:S1", 2), (0, "B:S0", 1)], "B:S1"),
])
def test_bad_leaf_ids_are_one_line_errors(tmp_path, rows, needle):
    cfg = NetworkConfig(nodes=TWO, demand_csv=write(tmp_path / "d.csv", rows), n_skus=None, episode_length=1)
    assert needle in one_line_error(ConfigError, cfg.build)
