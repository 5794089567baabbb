"""Order replay (``env.orders_csv``): the log is read as documented, tours replay it in file
order from a seeded start with wrap-around, the simulator runs on it, and malformed files
are one-line errors naming the field."""

from __future__ import annotations

import numpy as np
import pytest

from envs.core.config import ConfigError
from envs.slotting.config import SlottingConfig
from envs.slotting.orders_file import read_orders
from envs.slotting.replay import ReplayDemand
from envs.slotting.simulator import SlottingSimulator
from tests.conftest import one_line_error

SAMPLE = "data/slotting/orders_synthetic_300.csv"


def write(tmp_path, text: str, name: str = "orders.csv") -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_the_log_groups_lines_by_order_and_ranks_skus_by_lines(tmp_path):
    path = write(tmp_path, "order,sku,extra\nA,x,1\nA,y,1\nB,y,1\nC,z,1\nA,x,2\nC,y,1\n")
    log = read_orders(path)
    assert log.labels == ("y", "x", "z")  # y: 3 lines, then x and z with 1 each (ties by label)
    assert [o.tolist() for o in log.orders] == [[0, 1], [0], [0, 2]]  # A's duplicate x is one line
    assert log.lines.tolist() == [3, 1, 1]


def test_tours_replay_the_log_from_a_seeded_start_and_wrap(tmp_path):
    rows = "".join(f"O{i},{s}\n" for i in range(7) for s in ("a", "b")[: 1 + i % 2])
    path = write(tmp_path, "order,sku\n" + rows)
    config = SlottingConfig(orders_csv=path, n_skus=2, batch_size=3)
    log = read_orders(path)
    demand = ReplayDemand(config, np.random.default_rng(4))
    start = np.random.default_rng(4).integers(len(log.orders))
    got = [o.tolist() for _ in range(5) for o in demand.next_tour().orders]
    want = [log.orders[(start + k) % 7].tolist() for k in range(15)]
    assert got == want and demand.t == 5
    assert np.allclose(demand.shares(), log.lines / log.lines.sum()) and demand.active.all()


def test_picker_capacity_defers_the_order_that_does_not_fit(tmp_path):
    path = write(tmp_path, "order,sku\n" + "".join(f"O{i},a\nO{i},b\nO{i},c\n" if i % 2 else f"O{i},a\n"
                                                    for i in range(10)))
    demand = ReplayDemand(SlottingConfig(orders_csv=path, n_skus=3, batch_size=4, picker_capacity=4),
                          np.random.default_rng(0))
    seen = 0
    for _ in range(20):
        tour = demand.next_tour()
        assert tour.lines <= 4 or len(tour.orders) == 1
        seen += len(tour.orders)
    assert seen >= 20


def test_the_simulator_runs_on_the_shipped_sample_and_conserves_units():
    config = SlottingConfig(orders_csv=SAMPLE, n_skus=297, n_aisles=6, slots_per_side=10, levels=2,
                            episode_loads=150)
    sim = SlottingSimulator(config)
    sim.reset(np.random.default_rng(1))
    rng = np.random.default_rng(2)
    while not sim.done:
        sim.step(int(rng.choice(np.flatnonzero(sim.free_mask()))))
    assert sim.units_initial + sim.units_put_away == sim.units_picked + sim.units_cleared + sim.slot_units.sum()
    assert sim.kpis()["lines"] > 0 and sim.units_cleared == 0  # no retirements in a replay


@pytest.mark.parametrize(("text", "needle"), [
    (None, "existing CSV file"),
    ("order,item\nA,x\n", "columns order and sku"),
    ("order,sku\n", "no order lines"),
    ("order,sku\nA,\n", "empty order or sku"),
])
def test_malformed_logs_are_one_line_errors_naming_the_field(tmp_path, text, needle):
    path = str(tmp_path / "missing.csv") if text is None else write(tmp_path, text)
    message = one_line_error(ConfigError, SlottingConfig, orders_csv=path, n_skus=1)
    assert message.startswith("env.orders_csv:") and needle in message


def test_n_skus_must_match_the_log():
    message = one_line_error(ConfigError, SlottingConfig, orders_csv=SAMPLE, n_skus=300)
    assert message.startswith("env.n_skus:") and "n_skus=297" in message
