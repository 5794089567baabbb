"""Bad dispatch configs fail in one line naming the field: every field of
:class:`DispatchConfig` with a value of the wrong type, out of range or not among the
choices; unknown keys; arrival rates longer than the day; sizes above the capacity; a missing
or malformed instance file. Through the CLI: exit status 2 and one line ``error: ...``."""

from __future__ import annotations

import math
import re
from dataclasses import fields
from pathlib import Path

import gymnasium
import pytest

import envs  # noqa: F401  (registers the ids)
from envs.core.config import ConfigError
from envs.dispatch.config import EURO_INSTANCE, DispatchConfig, EuroNeuripsConfig
from envs.dispatch.env import SameDayDeliveryEnv
from tests.conftest import one_line_error
from tests.entry_points import run_in_process, run_subprocess

ROOT = Path(__file__).resolve().parents[2]
ENV_ID = "fulfillgym/SameDayDelivery-v0"
NAN, INF = math.nan, math.inf

# field -> bad values (each alone on the defaults); the ``field`` the message must name is the key
BAD = {
    "rules": ["same-day", "", 1, None],
    "day_minutes": [0.0, -60.0, 1e9, NAN, INF, "600", True, None],
    "epoch_minutes": [0.0, -15.0, 601.0, NAN, "15", None],
    "arrival_rates": [[], (), "12", None, 12.0, [1.0, -1.0], [INF], [NAN], ["a"], [[1.0]], [True], [1e5],
                      [1.0] * 11],  # 11 hours of orders in a 600-minute day
    "promise_minutes": [-1.0, 1e9, NAN, "120", None],
    "earliest_delay_minutes": [-1.0, 121.0, INF, "0"],
    "size_min": [-1, 1.5, "1", True, None, 4],  # 4 > size_max = 3
    "size_max": [0, 13, 2.5, "3", None],  # 13 > capacity = 12
    "service_minutes": [-3.0, NAN, "3", None],
    "locations": ["grid", "Uniform", 0, None],
    "area_km": [0.0, -15.0, 1e6, NAN, "15", None],
    "n_hotspots": [0, -1, 2.5, "5", 10_000],
    "hotspot_km": [-1.0, INF, "1.5"],
    "instance": [3, "no/such/instance.txt", "", ["a.txt"]],
    "instance_km_per_unit": [0.0, -1.0, NAN, "1"],
    "n_vehicles": [0, -1, 1001, 2.5, "10", True],
    "capacity": [0, -12, 1.5, "12", True, None, 2],  # 2 < size_max = 3
    "speed_kmh": [0.0, -30.0, INF, "30", None],
    "shift_end_minutes": [14.0, -1.0, NAN, 1e9, "600"],  # 14 < epoch_minutes = 15
    "dispatch_margin_minutes": [-1.0, NAN, 1e9, "0", None],
    "router": ["ortools", "PyVRP", None, 1],
    "router_time_limit": [0.0, -1.0, 3601.0, NAN, "1"],
    "router_iterations": [0, -1, 1.5, "1000", None],  # None with no time limit either
    "cost_per_km": [-0.5, NAN, INF, 1e10, "0.5", None],
    "cost_per_trip": [-5.0, NAN, "5"],
    "cost_per_late_minute": [-0.5, INF, "0.5"],
    "failed_penalty": [-50.0, NAN, 1e10, "50"],
    "co2_kg_per_km": [-0.25, INF, "0.25"],
    "hard_deadlines": ["true", 1, 0, None],
    "max_orders": [0, -1, 4097, 6.5, "64", None],
    "observation": ["image", "Flat", None, 0],
}
CASES = [(field, value) for field, values in BAD.items() for value in values]


def case_id(case) -> str:
    field, value = case
    text = repr(value)
    return f"{field}={text if len(text) <= 20 else text[:17] + '...'}"


def names(message: str, field: str) -> bool:
    """The message starts with the field (``env.`` prefix and ``[i]`` index allowed)."""
    return re.match(rf"^(env\.)?{re.escape(field)}(\[\d+\])?: ", message) is not None


def test_every_field_has_bad_values():
    assert set(BAD) == {f.name for f in fields(DispatchConfig)}


@pytest.mark.parametrize("case", CASES, ids=[case_id(c) for c in CASES])
def test_a_bad_value_is_a_one_line_config_error_naming_the_field(case):
    field, value = case
    kwargs = {field: value}
    for build in (DispatchConfig.from_kwargs, lambda kw: DispatchConfig(**kw),
                  lambda kw: SameDayDeliveryEnv(**kw), lambda kw: gymnasium.make(ENV_ID, **kw)):
        message = one_line_error(ConfigError, build, kwargs)
        # a value that breaks a relation may be reported on the other field of the relation
        partner = {"size_min": "size_max", "size_max": "size_max", "capacity": "size_max",
                   "router_iterations": "router_iterations"}.get(field)
        assert names(message, field) or (partner and names(message, partner)), message


def test_relations_name_their_bound():
    message = one_line_error(ConfigError, DispatchConfig, arrival_rates=[1.0] * 11)
    assert message.startswith("env.arrival_rates: ") and "day_minutes=600" in message
    message = one_line_error(ConfigError, DispatchConfig, day_minutes=120.0, arrival_rates=[1.0, 1.0, 1.0])
    assert message.startswith("env.arrival_rates: ") and "day_minutes=120" in message
    message = one_line_error(ConfigError, DispatchConfig, size_max=13)
    assert message.startswith("env.size_max: ") and "capacity=12" in message
    message = one_line_error(ConfigError, DispatchConfig, capacity=4, size_max=5)
    assert message.startswith("env.size_max: ") and "capacity=4" in message
    message = one_line_error(ConfigError, DispatchConfig, earliest_delay_minutes=30.0, promise_minutes=20.0)
    assert message.startswith("env.earliest_delay_minutes: ")
    message = one_line_error(ConfigError, DispatchConfig, router="pyvrp", router_iterations=None)
    assert message.startswith("env.router_iterations: ") and "router_time_limit" in message


def test_the_bounds_themselves_are_accepted():
    DispatchConfig(arrival_rates=[1.0] * 10)  # 10 hours in a 600-minute day
    DispatchConfig(size_max=12, capacity=12, n_vehicles=1000, max_orders=4096, epoch_minutes=600.0)
    DispatchConfig(n_vehicles=None, shift_end_minutes=15.0, router_iterations=None, router_time_limit=3600.0)
    DispatchConfig(earliest_delay_minutes=120.0, cost_per_km=1e9, arrival_rates=[0.0])


@pytest.mark.parametrize("key", ["capacityy", "vehicles", "seed", "render"])
def test_an_unknown_key_is_refused_naming_it(key):
    for build in (DispatchConfig.from_kwargs, lambda kw: SameDayDeliveryEnv(**kw),
                  lambda kw: gymnasium.make(ENV_ID, **kw)):
        message = one_line_error(ConfigError, build, {key: 1})
        assert message.startswith(f"env.{key}: unknown option"), message
        assert "capacity" in message  # the accepted options are listed


@pytest.mark.parametrize("rules", ["same_day", "euro_neurips"])
def test_a_missing_instance_is_refused_when_the_rules_need_one(rules):
    kwargs = {"locations": "instance"} if rules == "same_day" else {"rules": "euro_neurips"}
    message = one_line_error(ConfigError, DispatchConfig, **kwargs)
    assert message.startswith("env.instance: required with ")
    assert ("locations=instance" if rules == "same_day" else "rules=euro_neurips") in message
    message = one_line_error(ConfigError, EuroNeuripsConfig, instance=None)
    assert message.startswith("env.instance: required with rules=euro_neurips")
    message = one_line_error(ConfigError, DispatchConfig, **kwargs, instance="data/dispatch/nope.txt")
    assert message.startswith("env.instance: ") and "nope.txt" in message


# -- malformed instance files -----------------------------------------------------------------
COORDS_ONLY = """NAME : tiny
TYPE : CVRP
DIMENSION : 3
EDGE_WEIGHT_TYPE : EUC_2D
CAPACITY : 10
NODE_COORD_SECTION
1 0 0
2 1 1
3 2 2
DEMAND_SECTION
1 0
2 1
3 1
DEPOT_SECTION
1
-1
EOF
"""
MATRIX_ONLY = """NAME : tiny
TYPE : CVRP
DIMENSION : 2
EDGE_WEIGHT_TYPE : EXPLICIT
EDGE_WEIGHT_FORMAT : FULL_MATRIX
CAPACITY : 10
EDGE_WEIGHT_SECTION
0 5
5 0
DEMAND_SECTION
1 0
2 1
DEPOT_SECTION
1
-1
EOF
"""


def euro_text(edit) -> str:
    return edit((ROOT / EURO_INSTANCE).read_text())


MALFORMED = {  # name -> (rules the file is malformed for, file content)
    "garbage": ("both", "this is not\nan instance at all\n"),
    "empty": ("both", ""),
    "binary": ("both", b"\x00\xff\xfe\x89PNG\x00\x01" * 20),
    "no_coordinates": ("same_day", MATRIX_ONLY),
    "nan_coordinates": ("same_day", COORDS_ONLY.replace("2 1 1", "2 nan 1")),
    "coordinates_only": ("euro_neurips", COORDS_ONLY),
    "decimal_durations": ("euro_neurips", lambda: euro_text(lambda t: t.replace("EDGE_WEIGHT_SECTION\n0\t", "EDGE_WEIGHT_SECTION\n0.5\t", 1))),
    "missing_time_windows": ("euro_neurips", lambda: euro_text(lambda t: t[: t.index("TIME_WINDOW_SECTION")] + "EOF\n")),
    "truncated_matrix": ("euro_neurips", lambda: euro_text(lambda t: t[: t.index("EDGE_WEIGHT_SECTION") + 40] + "\nEOF\n")),
}
MALFORMED_CASES = [(name, rules) for name, (which, _) in MALFORMED.items()
                   for rules in (("same_day", "euro_neurips") if which == "both" else (which,))]


def write_malformed(tmp_path: Path, name: str) -> Path:
    content = MALFORMED[name][1]
    content = content() if callable(content) else content
    path = tmp_path / f"{name}.txt"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    return path


def instance_kwargs(rules: str, path: Path) -> dict:
    if rules == "same_day":
        return {"locations": "instance", "instance": str(path)}
    return {"rules": "euro_neurips", "instance": str(path), "n_vehicles": None, "capacity": 1_000_000,
            "day_minutes": 1440.0, "epoch_minutes": 60.0, "dispatch_margin_minutes": 60.0}


@pytest.mark.parametrize(("name", "rules"), MALFORMED_CASES, ids=[f"{n}-{r}" for n, r in MALFORMED_CASES])
def test_a_malformed_instance_is_a_one_line_error_naming_instance_before_the_first_step(tmp_path, name, rules):
    kwargs = instance_kwargs(rules, write_malformed(tmp_path, name))

    def start():
        SameDayDeliveryEnv(**kwargs).reset(seed=0)

    message = one_line_error(ConfigError, start)
    assert names(message, "instance") and str(tmp_path) in message, message


@pytest.mark.parametrize(("name", "rules"), [("garbage", "same_day"), ("coordinates_only", "euro_neurips")])
def test_a_malformed_instance_is_refused_by_the_config_itself(tmp_path, name, rules):
    kwargs = instance_kwargs(rules, write_malformed(tmp_path, name))
    message = one_line_error(ConfigError, DispatchConfig, **kwargs)
    assert names(message, "instance"), message


def test_the_shipped_instance_is_found_from_any_working_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    config = EuroNeuripsConfig()
    assert Path(config.instance).is_file()
    SameDayDeliveryEnv(config=config).reset(seed=0)


# -- the command line -------------------------------------------------------------------------
CLI = {  # name -> (overrides, the field the one line must name)
    "capacity_zero": (["env.capacity=0"], "capacity"),
    "rates_longer_than_the_day": (["env.day_minutes=120", "env.arrival_rates=[1,2,3]"], "arrival_rates"),
    "unknown_key": (["+env.vehicles=3"], "env.vehicles"),
    "instance_missing": (["env.locations=instance"], "instance"),
    "malformed_instance": (["env.locations=instance", "env.instance={garbage}"], "instance"),
    "euro_malformed_instance": (["env=dispatch_euro_neurips", "env.instance={coords}"], "instance"),
}


def cli_args(name: str, base: Path) -> list[str]:
    """The command line of case ``name``, its instance files written into ``base``."""
    garbage, coords = base / "garbage.txt", base / "coords.vrp"
    garbage.write_text(MALFORMED["garbage"][1])
    coords.write_text(COORDS_ONLY)
    args = [o.format(garbage=garbage, coords=coords) for o in CLI[name][0]]
    if not any(a.startswith("env=") for a in args):
        args.insert(0, "env=dispatch")
    return [*args, "smoke=true", "agents=[greedy]", f"hydra.run.dir={base / 'run'}"]


def assert_one_error_line(result, field: str) -> None:
    assert result.returncode == 2, result.stderr[-2000:]
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr[-2000:]
    assert field in lines[0] and "Traceback" not in result.stderr


@pytest.mark.parametrize("name", sorted(CLI))
def test_the_cli_exits_2_with_one_error_line(tmp_path, monkeypatch, capsys, name):
    """``experiments.benchmark``'s main in this process (``tests/entry_points.py``)."""
    result = run_in_process("experiments.benchmark", cli_args(name, tmp_path), tmp_path, monkeypatch, capsys)
    assert_one_error_line(result, CLI[name][1])


def test_the_cli_from_a_real_interpreter_exits_2_with_one_error_line(tmp_path):
    result = run_subprocess("experiments.benchmark", cli_args("malformed_instance", tmp_path), tmp_path)
    assert_one_error_line(result, CLI["malformed_instance"][1])
