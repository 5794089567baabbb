"""Silently wrong data files are refused in one line (issue 21): every VRPLIB / Solomon reader
(the static routing reader, the dispatch env's coordinates, the EURO reader) applies
``check_vrplib`` (non-finite or huge coordinates, negative or decimal demands, a missing
DEMAND_SECTION, a DIMENSION that disagrees with a section, a CAPACITY <= 0 or below a demand,
bad explicit weights, time windows and service times); a ``.sol`` file that misses, repeats or
invents a customer, overloads a route or states a cost its routes do not have is refused before
it serves as the BKS. Every shipped instance and solution still loads."""

from __future__ import annotations

from pathlib import Path

import pytest

from envs.core.config import ConfigError
from envs.dispatch.euro_neurips import read_instance as read_euro
from envs.dispatch.instance_files import instance_coordinates
from envs.dispatch.routing.instances import check_solution, read_instance, read_solution
from tests.conftest import one_line_error
from tests.entry_points import run_in_process

ROOT = Path(__file__).resolve().parents[2]
VRPLIB = Path(__file__).resolve().parent / "data" / "vrplib"

BASE = """NAME : tiny
TYPE : CVRPTW
DIMENSION : 4
EDGE_WEIGHT_TYPE : EXPLICIT
EDGE_WEIGHT_FORMAT : FULL_MATRIX
CAPACITY : 10
EDGE_WEIGHT_SECTION
0 3 3 5
3 0 4 4
3 4 0 4
5 4 4 0
NODE_COORD_SECTION
1 0 0
2 3 0
3 0 3
4 4 3
DEMAND_SECTION
1 0
2 2
3 3
4 4
SERVICE_TIME_SECTION
1 0
2 1
3 1
4 1
TIME_WINDOW_SECTION
1 0 100
2 0 50
3 10 60
4 0 100
DEPOT_SECTION
1
-1
EOF
"""
DEMANDS = BASE[BASE.index("DEMAND_SECTION"):BASE.index("SERVICE_TIME_SECTION")]

# case -> (text replaced, replacement, what the message must contain after "instance: <path>: ")
CASES = {
    "nan coordinate": ("2 3 0\n", "2 nan 0\n", "NODE_COORD_SECTION: expected finite coordinates with |value| <= 1e+07, "
                       "got [nan, 0.0] at node 2"),
    "inf coordinate": ("4 4 3\n", "4 4 -inf\n", "NODE_COORD_SECTION: expected finite coordinates"),
    "huge coordinate": ("3 0 3\n", "3 1e300 3\n", "got [1e+300, 3.0] at node 3"),
    "negative demand": ("3 3\n4 4", "3 -1\n4 4", "DEMAND_SECTION: expected integers >= 0, got -1 at node 3"),
    "decimal demand": ("2 2\n", "2 1.5\n", "DEMAND_SECTION: expected integers, got decimal numbers such as 1.5 in row 2"),
    "missing demand section": (DEMANDS, "", "missing DEMAND_SECTION"),
    "depot demand": ("1 0\n2 2\n", "1 1\n2 2\n", "DEMAND_SECTION: expected demand 0 at the depot, got 1 at node 1"),
    "depot outside": ("DEPOT_SECTION\n1\n", "DEPOT_SECTION\n9\n", "DEPOT_SECTION: expected node numbers in [1, 4], got [9]"),
    "dimension too large": ("DIMENSION : 4", "DIMENSION : 5", "EDGE_WEIGHT_SECTION has 4 rows, DIMENSION is 5"),
    "dimension too small": ("DIMENSION : 4", "DIMENSION : 3", "has 4 rows, DIMENSION is 3"),
    "capacity zero": ("CAPACITY : 10", "CAPACITY : 0", "CAPACITY: expected an integer >= 1, got 0"),
    "capacity negative": ("CAPACITY : 10", "CAPACITY : -5", "CAPACITY: expected an integer >= 1, got -5"),
    "capacity nan": ("CAPACITY : 10", "CAPACITY : nan", "CAPACITY: expected an integer >= 1, got nan"),
    "capacity text": ("CAPACITY : 10", "CAPACITY : lots", "CAPACITY: expected an integer >= 1, got 'lots'"),
    "missing capacity": ("CAPACITY : 10\n", "", "missing CAPACITY"),
    "demand above capacity": ("4 4\nSERVICE", "4 11\nSERVICE", "DEMAND_SECTION: expected demands <= CAPACITY 10, "
                              "got 11 at node 4: no vehicle can serve it, the instance is infeasible"),
    "negative weight": ("3 0 4 4\n", "3 0 -4 4\n", "EDGE_WEIGHT_SECTION: expected finite weights >= 0, got -4 from "
                        "node 2 to 3"),
    "nan weight": ("3 4 0 4\n", "3 nan 0 4\n", "EDGE_WEIGHT_SECTION: expected finite weights >= 0, got nan from node "
                   "3 to 2"),
    "window reversed": ("3 10 60\n", "3 60 10\n", "TIME_WINDOW_SECTION: expected finite windows with 0 <= early <= "
                        "late, got [60, 10] at node 3"),
    "window infinite": ("4 0 100\n", "4 0 inf\n", "TIME_WINDOW_SECTION: expected finite windows"),
    "negative service": ("3 1\n4 1\nTIME", "3 -2\n4 1\nTIME", "SERVICE_TIME_SECTION: expected finite service times "
                         ">= 0, got -2 at node 3"),
}
READERS = {"routing": lambda path: read_instance(path), "coordinates": lambda path: instance_coordinates(str(path))}


def write(tmp_path: Path, case: str) -> Path:
    old, new, _ = CASES[case]
    assert old in BASE, case
    path = tmp_path / "bad.vrp"
    path.write_text(BASE.replace(old, new, 1))
    return path


@pytest.mark.parametrize("reader", sorted(READERS))
def test_the_base_file_loads(tmp_path, reader):
    (tmp_path / "good.vrp").write_text(BASE)
    READERS[reader](tmp_path / "good.vrp")


@pytest.mark.parametrize(("case", "reader"), [(c, r) for c in sorted(CASES) for r in sorted(READERS)
                                               if (c, r) != ("missing capacity", "coordinates")])  # needs none
def test_a_malformed_file_is_one_line_naming_the_file_the_section_and_the_value(tmp_path, case, reader):
    path = write(tmp_path, case)
    message = one_line_error(ConfigError, READERS[reader], path)
    assert message.startswith(f"instance: {path}: ") and CASES[case][2] in message, message


def test_the_euro_reader_applies_the_same_checks(tmp_path):
    text = (ROOT / "tests" / "dispatch" / "data" / "euro_small_n25.txt").read_text()
    path = tmp_path / "bad.txt"
    path.write_text(text.replace("CAPACITY : 200", "CAPACITY : 0"))
    assert "CAPACITY: expected an integer >= 1, got 0" in one_line_error(ConfigError, read_euro, path)


@pytest.mark.parametrize("name", ["A-n32-k5", "P-n16-k8", "RC208", "E-n22-k4"])
def test_every_shipped_file_loads_and_every_shipped_solution_is_accepted(name):
    path = next(VRPLIB.glob(f"{name}.*[!l]"))  # .vrp or .txt, not .sol
    problem, info = read_instance(path)
    assert len(instance_coordinates(str(path))) == problem.n_orders + 1
    if (VRPLIB / f"{name}.sol").is_file():
        trips, stated = read_solution(VRPLIB / f"{name}.sol")
        assert check_solution(problem, trips, stated, "solution", info["rounding"]) == stated


# ---- solutions ---------------------------------------------------------------------------
SOLUTIONS = {  # case -> (.sol text for BASE, what the message must contain); BASE's routes: 1-2 (cost 10), 3 (10)
    "missing customer": ("Route #1: 1 2\nCost 10\n", "1 of 3 customers are in no route (3); expected every customer"),
    "duplicate customer": ("Route #1: 1 2\nRoute #2: 3 1\nCost 24\n", "order 1 is served twice"),
    "unknown customer": ("Route #1: 1 2\nRoute #2: 3 7\nCost 20\n", "stop 7 is not an order (1..3)"),
    "over capacity": ("Route #1: 1 2 3\nCost 14\n", "load"),
    "wrong cost": ("Route #1: 1 2\nRoute #2: 3\nCost 19\n", "Cost 19 stated, 20 recomputed from its routes"),
}


def solution(tmp_path: Path, text: str):
    (tmp_path / "i.vrp").write_text(BASE.replace("3 3\n4 4", "3 3\n4 6", 1))  # node 4: 6, all three: 11 > 10
    (tmp_path / "i.sol").write_text(text)
    problem, info = read_instance(tmp_path / "i.vrp", "exact")
    return problem, info, read_solution(tmp_path / "i.sol")


def test_a_right_solution_is_accepted(tmp_path):
    problem, info, (trips, stated) = solution(tmp_path, "Route #1: 1 2\nRoute #2: 3\nCost 20\n")
    assert check_solution(problem, trips, stated, "solution", info["rounding"]) == 20


@pytest.mark.parametrize("case", sorted(SOLUTIONS))
def test_a_wrong_solution_is_one_line_naming_the_file_and_the_problem(tmp_path, case):
    text, want = SOLUTIONS[case]
    problem, info, (trips, stated) = solution(tmp_path, text)
    message = one_line_error(ConfigError, check_solution, problem, trips, stated, "solution: i.sol", info["rounding"])
    assert message.startswith("solution: i.sol: ") and want in message, message


def test_the_routing_command_refuses_a_wrong_solution_before_routing(tmp_path, monkeypatch, capsys):
    sol = tmp_path / "bad.sol"
    sol.write_text((VRPLIB / "P-n16-k8.sol").read_text().replace("Cost 450", "Cost 400"))
    result = run_in_process("experiments.analysis.routing", [f"instance={VRPLIB / 'P-n16-k8.vrp'}", f"solution={sol}"],
                            tmp_path, monkeypatch, capsys)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: solution: {sol}: Cost 400 stated, 450 recomputed"), lines
