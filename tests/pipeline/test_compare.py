"""Suite tables side by side (experiments/analysis/compare.py) and the suite's paired gap to the best
other agent (experiments/suite.py): numbers recomputed by hand from small tables."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from agents.harness import paired_gap
from experiments.analysis.compare import compare, main
from experiments.suite import paired_to


def suite_rows(gaps: dict[tuple[int, float], list[float]], ahead: bool | None, cpu: float | None) -> pd.DataFrame:
    rows = []
    for (lead, penalty), values in gaps.items():
        for seed, gap in enumerate(values):
            row = {"experiment": f"x_L{lead}_p{penalty:g}", "lead_time": lead, "penalty": penalty, "seed": seed,
                   "agent": "a", "cost": 10 * (1 + gap / 100), "reference": "optimal", "reference_cost": 10.0,
                   "gap_to_reference_pct": gap, "best_other": "h", "best_other_cost": 10.1,
                   "gap_to_best_other_pct": 100 * (10 * (1 + gap / 100) / 10.1 - 1), "wall_seconds": 120.0}
            if ahead is not None:
                row["significantly_ahead"] = ahead and gap < 0.5
            if cpu is not None:
                row["cpu_seconds"] = cpu
            rows.append(row)
    return pd.DataFrame(rows)


def test_side_by_side_gives_seed_statistics_and_counts():
    old = suite_rows({(1, 4.0): [1.0, 2.0, 3.0], (2, 9.0): [0.4, 0.6, 0.5]}, None, None)
    new = suite_rows({(1, 4.0): [0.01, 0.02, 0.03], (2, 9.0): [0.1, 0.3, 0.6]}, True, 90.0)
    long, lines = compare({"OLD": old, "NEW": new}, [0.2, 0.5])
    row = long[(long["algorithm"] == "OLD") & (long["lead_time"] == 1)].iloc[0]
    gaps = np.array([1.0, 2.0, 3.0])
    assert row["gap_pct"] == pytest.approx(2.0) and row["worst_gap_pct"] == 3.0
    assert row["gap_ci95"] == pytest.approx(4.302652729911275 * gaps.std(ddof=1) / np.sqrt(3))
    assert np.isnan(row["seeds_significantly_ahead"]) and row["minutes"] == pytest.approx(2.0)
    assert row["minutes_kind"] == "wall"
    new_rows = long[long["algorithm"] == "NEW"].set_index("lead_time")
    assert list(new_rows["seeds_significantly_ahead"]) == [3, 2]  # 0.6 is not ahead
    assert new_rows["minutes_kind"].iloc[0] == "cpu" and new_rows["minutes"].iloc[0] == pytest.approx(1.5)
    summary = {line.split("**")[1]: line for line in lines if line.startswith("- **")}
    assert "1 within 0.2%, 1 within 0.5%" in summary["NEW"] and "1 of 2;" in summary["NEW"]
    assert "0 within 0.2%, 0 within 0.5%" in summary["OLD"] and "not recorded" in summary["OLD"]


def test_paired_ci_comes_from_the_per_replication_costs(tmp_path):
    rng = np.random.default_rng(0)
    base = rng.normal(10, 1, 64)
    mine, other = base - 0.05 + rng.normal(0, 0.01, 64), base
    path = tmp_path / "per_replication.csv"
    pd.DataFrame({"replication": range(64), "dcl": mine, "capped": other}).to_csv(path, index=False)
    assert paired_to(path, "dcl", "capped") == pytest.approx(paired_gap(mine, other)[1])
    assert np.isnan(paired_to(path, "dcl", "missing")) and np.isnan(paired_to(tmp_path / "no.csv", "dcl", "capped"))


@pytest.mark.parametrize(("table", "fragment"), [
    (None, "LABEL=path"),
    ("a,seed\n1,2\n", "lacks the column(s) experiment, reference"),
    ("", "not a readable CSV"),
    (",".join(suite_rows({(1, 4.0): [1.0]}, None, None).columns) + "\n", "has no rows"),
])
def test_bad_tables_argument_is_a_one_line_error(tmp_path, capsys, table, fragment):
    path = tmp_path / "t.csv"
    if table is not None:
        path.write_text(table)
    with pytest.raises(SystemExit) as stop:
        main([f"PPO={path}", "--out", str(tmp_path / "x")])
    lines = capsys.readouterr().err.strip().splitlines()
    assert stop.value.code == 2 and len(lines) == 1 and lines[0].startswith("error: ") and fragment in lines[0], lines
