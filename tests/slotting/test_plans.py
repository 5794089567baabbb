"""Every tour of a benchmark run is recomputable from its plan.

``python -m experiments.benchmark env=slotting smoke=true save_plans=true env.routing=<rule>``
(run in this process per routing rule: ``tests/entry_points.py``) writes ``plans/<agent>/episode_<r>.csv``: one row per picked
slot. Each row's coordinates must be those of its slot in the run's layout (``config.yaml``),
each tour's reported travel must equal the independent reference implementation of its rule
(``tests/slotting/reference_routing.py``: the three heuristics restated from their
definitions, and the optimum by shortest paths plus Held-Karp), and ``optimal`` must be no
longer than ``s_shape``, ``largest_gap`` and ``return`` on the same picks, tour by tour.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import yaml

from envs.slotting.layout import Layout
from tests.entry_points import run_once
from tests.slotting.reference_routing import points_length_reference

AGENTS = ("closest", "random", "oracle")
RULES = ("s_shape", "return", "largest_gap", "optimal")
LAYOUT_KEYS = ("n_aisles", "slots_per_side", "levels", "aisle_spacing", "slot_width", "depot")
HELD_KARP_MAX = 11  # distinct pick points the exact reference solves quickly


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("slotting_plans")
    out = {}
    for rule in RULES:
        out[rule] = base / rule
        args = ["env=slotting", "smoke=true", "save_plans=true", f"agents=[{','.join(AGENTS)}]",
                f"env.routing={rule}", "env.slot_order=distance", f"hydra.run.dir={out[rule]}"]
        run_once("experiments.benchmark", args, base).assert_ok()
    return out


def layout_of(run: Path) -> tuple[Layout, str]:
    env = yaml.safe_load((run / "config.yaml").read_text())["env"]
    return Layout(**{k: env[k] for k in LAYOUT_KEYS}), env["routing"]


@pytest.mark.parametrize("rule", RULES)
def test_every_tour_is_recomputed_by_the_reference_rule(runs, rule):
    lay, routing = layout_of(runs[rule])
    assert routing == rule
    reps = int(pd.read_csv(runs[rule] / "results.csv")["reps"].iloc[0])
    checked = 0
    for agent in AGENTS:
        files = sorted((runs[rule] / "plans" / agent).glob("episode_*.csv"))
        assert [p.name for p in files] == sorted(f"episode_{r}.csv" for r in range(reps))
        for path in files:
            plan = pd.read_csv(path)
            assert list(plan.columns) == ["tour", "slot", "sku", "aisle", "side", "position", "level", "x", "y",
                                          "travel"]
            assert (plan["x"] == plan["aisle"] * lay.aisle_spacing).all()
            assert (plan["y"] == (plan["position"] + 0.5) * lay.slot_width).all()
            assert (plan["slot"] == lay.slot_id(plan["aisle"], plan["side"], plan["position"], plan["level"])).all()
            for _, tour in plan.groupby("tour"):
                assert tour["travel"].nunique() == 1
                points = tour[["x", "y"]].to_numpy()
                if rule == "optimal" and len({tuple(p) for p in points}) > HELD_KARP_MAX:
                    continue
                assert tour["travel"].iloc[0] == pytest.approx(points_length_reference(lay, points, rule),
                                                               rel=1e-9, abs=1e-9)
                checked += 1
    assert checked >= 50


def test_optimal_is_never_longer_than_the_heuristics_tour_by_tour(runs):
    lay, _ = layout_of(runs["optimal"])
    for path in (runs["optimal"] / "plans").glob("*/episode_*.csv"):
        for _, tour in pd.read_csv(path).groupby("tour"):
            best = tour["travel"].iloc[0]
            points = tour[["x", "y"]].to_numpy()
            for rule in ("s_shape", "largest_gap", "return"):
                assert best <= points_length_reference(lay, points, rule) + 1e-9


def test_the_same_tours_are_played_whatever_the_routing(runs):
    """The routing rule changes the travel, not the picks (common random numbers; the storage
    order is fixed, since slot_order=auto would follow the routing)."""
    picks = {rule: pd.read_csv(runs[rule] / "plans" / "closest" / "episode_0.csv")[["tour", "slot", "sku"]]
             for rule in RULES}
    for rule in RULES[1:]:
        pd.testing.assert_frame_equal(picks[rule], picks[RULES[0]])
