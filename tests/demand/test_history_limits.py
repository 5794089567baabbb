"""Value limits of CSV demand histories and catalogues, and the catalogue / history split."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from envs.core.config import MAX_DAILY_DEMAND, ConfigError
from envs.replenishment.demand import catalogue
from envs.replenishment.demand.catalogue import Catalogue
from envs.replenishment.demand.history import load_demand_csv

ROOT = Path(__file__).resolve().parents[2]


def csv_error(tmp_path: Path, text: str) -> str:
    path = tmp_path / "demand.csv"
    path.write_text(text)
    with pytest.raises(ConfigError) as err:
        load_demand_csv(path)
    message = str(err.value)
    assert message.startswith(f"env.demand_csv: {path}: ") and "\n" not in message, message
    return message


@pytest.mark.parametrize("value", ["1e18", "1e19", "1000000001", "9223372036854775808", "1e300"])
def test_demand_above_the_daily_maximum_names_the_file_column_and_lines(tmp_path, value):
    message = csv_error(tmp_path, f"date,sku,demand\n2024-01-01,A,3\n2024-01-01,B,{value}\n"
                                  f"2024-01-02,A,{value}\n2024-01-02,B,0\n")
    assert f"column 'demand': expected an integer <= {MAX_DAILY_DEMAND}" in message
    assert f"at lines 3 ('{value}'), 4 ('{value}')" in message


@pytest.mark.parametrize(("value", "problem"), [("inf", "non-number"), ("nan", "non-number"),
                                                ("-1e19", "negative"), ("1e18.5", "non-number"),
                                                ("2.5e9", "<= 1000000000")])
def test_other_bad_demand_values_name_the_line(tmp_path, value, problem):
    message = csv_error(tmp_path, f"date,sku,demand\n2024-01-01,A,{value}\n")
    assert "column 'demand'" in message and problem in message and f"line 2 ('{value}')" in message


def test_the_daily_maximum_itself_is_accepted(tmp_path):
    path = tmp_path / "max.csv"
    path.write_text(f"date,sku,demand\n2024-01-01,A,{MAX_DAILY_DEMAND}\n2024-01-02,A,1e9\n")
    assert load_demand_csv(path).history.tolist() == [[MAX_DAILY_DEMAND], [MAX_DAILY_DEMAND]]


@pytest.mark.parametrize(("column", "value", "fragment"), [
    ("unit_cost", "2e9", "expected a number >= 0 and <= 1e9"),
    ("price", "1e300", "expected a number >= 0 and <= 1e9"),
    ("volume", "1e10", "expected a number > 0 and <= 1e9"),
    ("lead_time", "400", "expected an integer >= 1 and <= 365"),
])
def test_per_sku_columns_have_upper_limits_too(tmp_path, column, value, fragment):
    message = csv_error(tmp_path, f"date,sku,demand,{column}\n2024-01-01,A,1,1\n2024-01-01,B,1,{value}\n")
    assert f"column '{column}': {fragment} at line 3 ('{value}')" in message


def _catalogue(**changes) -> Catalogue:
    values = dict(skus=("A", "B"), mean_demand=[1.0, 2.0], volume=1.0, unit_cost=0.0, price=0.0,
                  lead_time=2, intermittency=1.0, launch_day=0, retire_day=catalogue.NEVER)
    return Catalogue(**{**values, **changes})


@pytest.mark.parametrize(("changes", "field", "fragment"), [
    (dict(mean_demand=[1.0, 1e18]), "catalogue.mean_demand", "got 1e+18 at index 1"),
    (dict(mean_demand=[1.0, np.nan]), "catalogue.mean_demand", "got nan at index 1"),
    (dict(volume=np.inf), "catalogue.volume", "got inf at index 0"),
    (dict(unit_cost=[0.0, 5e9]), "catalogue.unit_cost", "at index 1"),
    (dict(lead_time=[2, 400]), "catalogue.lead_time", "integers in [1, 365]"),
    (dict(lead_time=[2, 2.5]), "catalogue.lead_time", "got 2.5 at index 1"),
    (dict(lead_time=["2", "3"]), "catalogue.lead_time", "got dtype <U1"),
    (dict(launch_day=[0, np.nan]), "catalogue.launch_day", "got nan at index 1"),
    (dict(history=[[1, 2], [3, 1e19]]), "catalogue.history", "got 1e+19 at row 1, column 1"),
    (dict(history=[[1, 2], [3, np.nan]]), "catalogue.history", "got nan at row 1, column 1"),
    (dict(history=[[1, 2], [-1, 0]]), "catalogue.history", "got -1 at row 1, column 0"),
    (dict(history=np.zeros((3, 3))), "catalogue.history", "shape (3, 3)"),
])
def test_catalogue_values_beyond_the_limits_are_one_line_config_errors(changes, field, fragment):
    with pytest.raises(ConfigError) as err:
        _catalogue(**changes)
    message = str(err.value)
    assert message.startswith(f"{field}: ") and fragment in message and "\n" not in message, message


def test_a_valid_catalogue_is_unchanged():
    cat = _catalogue(history=np.array([[1.0, 2.0], [3.0, 0.0]]), lead_time=[1.0, 365.0])
    assert cat.history.dtype == np.int64 and cat.history.tolist() == [[1, 2], [3, 0]]
    assert cat.lead_time.tolist() == [1, 365] and cat.volume.tolist() == [1.0, 1.0]


def test_the_generator_command_line_still_runs_as_the_catalogue_module(tmp_path):
    out = tmp_path / "tiny.csv"
    proc = subprocess.run([sys.executable, "-m", "envs.replenishment.demand.catalogue", "--n-skus", "3", "--days",
                           "5", "--out", str(out)], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert load_demand_csv(out).history.shape == (5, 3)
