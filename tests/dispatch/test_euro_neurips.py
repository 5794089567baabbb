"""The EURO Meets NeurIPS 2022 dynamic VRPTW protocol: the instance reader, the request stream
(checked against a literal, loop-by-loop restatement of the competition's rule written here,
so that a refactor of the module cannot drift), the must-dispatch rule and the Day."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from envs.core.config import ConfigError
from envs.dispatch.euro_neurips import (
    EPOCH_DURATION,
    MARGIN_DISPATCH,
    EuroInstance,
    euro_day,
    euro_day_minutes,
    must_dispatch,
    read_instance,
    sample_requests,
    write_instance,
)

DATA = Path(__file__).parent / "data"
FILES = {25: DATA / "euro_small_n25.txt", 60: DATA / "euro_small_n60.txt"}
GENERATED_WITH = {25: 1, 60: 2}  # n_customers -> the seed write_instance was called with
SEEDS = (0, 1, 7, 12345)


@pytest.fixture(scope="module", params=sorted(FILES))
def instance(request) -> EuroInstance:
    return read_instance(FILES[request.param])


# -- a literal restatement of the competition's rule (plain loops, no module code) --------
def literal_requests(inst: EuroInstance, seed: int) -> list[dict]:
    """Per epoch: four draws of 100 customer indices in 1..N (location, window, demand,
    service), kept iff leaving at epoch*3600 + 3600 the request can be reached by its latest
    time and the vehicle be back at the depot by its closing time."""
    d = inst.duration.tolist()
    tw = inst.time_window.tolist()
    service = inst.service.tolist()
    demand = inst.demand.tolist()
    n = len(demand) - 1
    close = tw[0][1]
    earlies = [tw[c][0] for c in range(1, n + 1)]
    first = max((min(earlies) - 3600) // 3600, 0)
    last = max((max(earlies) - 3600) // 3600, 0)
    rng = np.random.default_rng(seed)
    out = []
    for epoch in range(first, last + 1):
        leave = 3600 * epoch + 3600
        where = rng.integers(n, size=100) + 1
        window = rng.integers(n, size=100) + 1
        size = rng.integers(n, size=100) + 1
        stop = rng.integers(n, size=100) + 1
        for k in range(100):
            c = int(where[k])
            early, late = tw[int(window[k])]
            s = service[int(stop[k])]
            arrive = max(leave + d[0][c], early)
            if arrive <= late and arrive + s + d[c][0] <= close:
                out.append({"request_id": len(out) + 1, "epoch": epoch, "customer": c, "early": early,
                            "late": late, "demand": demand[int(size[k])], "service": s, "release": leave})
    return out


def literal_must_go(inst: EuroInstance, r: dict, epoch: int) -> bool:
    """Open at ``epoch``: must go at the last epoch, or if leaving alone at the next epoch's
    departure it would be late or back after the depot closes."""
    tw = inst.time_window.tolist()
    earlies = [tw[c][0] for c in range(1, len(tw))]
    last = max((max(earlies) - 3600) // 3600, 0)
    if epoch == last:
        return True
    d = inst.duration.tolist()
    leave_next = 3600 * epoch + 3600 + 3600
    arrive = max(leave_next + d[0][r["customer"]], r["early"])
    return arrive > r["late"] or arrive + r["service"] + d[r["customer"]][0] > tw[0][1]


# -- reading ------------------------------------------------------------------------------
@pytest.mark.parametrize("n", sorted(FILES))
def test_reads_the_generated_files(n):
    inst = read_instance(FILES[n])
    assert inst.n_customers == n and inst.name == f"FULFILLGYM-VRPTW-ASYM-s{GENERATED_WITH[n]}-n{n}"
    m = n + 1
    assert inst.duration.shape == (m, m) and inst.duration.dtype == np.int64
    assert (np.diag(inst.duration) == 0).all() and (inst.duration >= 0).all()
    assert (inst.duration != inst.duration.T).any()  # asymmetric, like ORTEC's
    assert inst.coords.shape == (m, 2) and inst.demand.shape == (m,) and inst.service.shape == (m,)
    assert inst.time_window.shape == (m, 2) and inst.time_window[0].tolist() == [0, 45000]
    assert inst.horizon == 45000 and inst.capacity == 200 and inst.vehicles == max(1, n // 8)
    assert inst.demand[0] == 0 and inst.service[0] == 0 and (inst.demand[1:] >= 1).all()
    assert (inst.time_window[:, 0] <= inst.time_window[:, 1]).all()
    tw = inst.time_window
    assert inst.start_epoch == max((tw[1:, 0].min() - 3600) // 3600, 0)
    assert inst.end_epoch == max((tw[1:, 0].max() - 3600) // 3600, 0) > inst.start_epoch


@pytest.mark.parametrize("n", sorted(FILES))
def test_the_data_files_are_what_write_instance_writes(n, tmp_path):
    out = write_instance(tmp_path / "x.txt", n, GENERATED_WITH[n])
    assert out.read_text() == FILES[n].read_text()
    assert write_instance(tmp_path / "y.txt", n, 99).read_text() != out.read_text()


def test_write_instance_rejects_a_bad_size(tmp_path):
    with pytest.raises(ConfigError, match="n_customers"):
        write_instance(tmp_path / "x.txt", 0, 1)


def _edit(text: str, case: str) -> str:
    lines = text.splitlines()
    ew = lines.index("EDGE_WEIGHT_SECTION")
    tw = lines.index("TIME_WINDOW_SECTION")
    if case == "matrix row missing":
        lines.pop(ew + 1)
    elif case == "dimension too large":
        lines = [line.replace("DIMENSION : 26", "DIMENSION : 27") for line in lines]
    elif case == "matrix rows too short":
        lines[ew + 1:ew + 27] = ["\t".join(r.split("\t")[:-1]) for r in lines[ew + 1:ew + 27]]
    elif case == "ragged matrix":
        lines[ew + 3] += "\t5"
    elif case == "missing time windows":
        lines = lines[:tw] + ["EOF"]
    elif case == "missing capacity":
        lines = [line for line in lines if not line.startswith("CAPACITY")]
    elif case == "non-numeric demand":
        i = lines.index("DEMAND_SECTION") + 2
        lines[i] = lines[i].split("\t")[0] + "\tlots"
    elif case == "non-numeric duration":
        lines[ew + 2] = "abc\t" + lines[ew + 2].split("\t", 1)[1]
    elif case == "decimal time window":
        lines[tw + 2] = "2\t4800.5\t12600"
    elif case == "early after late":
        lines[tw + 2] = "2\t30000\t12600"
    elif case == "negative duration":
        lines[ew + 1] = "0\t-5\t" + lines[ew + 1].split("\t", 2)[2]
    elif case == "two depots":
        i = lines.index("DEPOT_SECTION")
        lines.insert(i + 1, "2")
    elif case == "not vrplib":
        lines = ["hello world"]
    elif case == "empty":
        lines = []
    return "\n".join(lines) + "\n"


MALFORMED = {
    "matrix row missing": "EDGE_WEIGHT_SECTION has 25 rows, DIMENSION is 26",
    "dimension too large": "EDGE_WEIGHT_SECTION has 26 rows, DIMENSION is 27",
    "matrix rows too short": "EDGE_WEIGHT_SECTION: expected 26 value(s) per row, got 25",
    "ragged matrix": "EDGE_WEIGHT_SECTION rows have different lengths",
    "missing time windows": "missing TIME_WINDOW_SECTION",
    "missing capacity": "missing CAPACITY",
    "non-numeric demand": "DEMAND_SECTION: expected integers, got 'lots' in row 2",
    "non-numeric duration": "EDGE_WEIGHT_SECTION: expected integers, got 'abc' in row 2",
    "decimal time window": "TIME_WINDOW_SECTION: expected integers, got decimal numbers such as 4800.5 in row 2",
    "early after late": "TIME_WINDOW_SECTION: expected finite windows with 0 <= early <= late, got [30000, 12600] at node 2",
    "negative duration": "EDGE_WEIGHT_SECTION: expected finite weights >= 0, got -5 from node 1 to 2",
    "two depots": "DEPOT_SECTION: expected the single depot 1, got [2, 1]",
    "not vrplib": "not a VRPLIB instance",
    "empty": "missing DIMENSION",
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_a_malformed_file_gives_one_line_naming_the_file_and_the_problem(case, tmp_path):
    path = tmp_path / "bad.txt"
    path.write_text(_edit(FILES[25].read_text(), case))
    with pytest.raises(ConfigError) as err:
        read_instance(path)
    message = str(err.value)
    assert "\n" not in message
    assert message.startswith(f"env.instance: {path}: ")
    assert MALFORMED[case] in message


def test_a_missing_file_gives_one_line(tmp_path):
    with pytest.raises(ConfigError, match=r"^env\.instance: .*nope\.txt: no such file$"):
        read_instance(tmp_path / "nope.txt")


# -- the request stream --------------------------------------------------------------------
@pytest.mark.parametrize("seed", SEEDS)
def test_the_stream_matches_the_literal_rule(instance, seed):
    req = sample_requests(instance, seed)
    want = literal_requests(instance, seed)
    assert len(req) == len(want) > 0
    for field in ("request_id", "epoch", "customer", "early", "late", "demand", "service", "release"):
        assert getattr(req, field).tolist() == [r[field] for r in want], field
    assert req.must_dispatch.tolist() == [literal_must_go(instance, r, r["epoch"]) for r in want]


def test_same_seed_same_requests_different_seed_different(instance):
    a, b, c = sample_requests(instance, 3), sample_requests(instance, 3), sample_requests(instance, 4)
    fields = ("customer", "early", "late", "demand", "service", "epoch", "must_dispatch")
    assert all(np.array_equal(getattr(a, f), getattr(b, f)) for f in fields)
    assert len(a) != len(c) or any(not np.array_equal(getattr(a, f), getattr(c, f)) for f in fields)


def test_by_epoch_covers_every_epoch_and_every_request(instance):
    req = sample_requests(instance, 1)
    per = req.by_epoch()
    assert sorted(per) == list(range(instance.start_epoch, instance.end_epoch + 1))
    ids = np.concatenate([p["request_id"] for p in per.values()])
    assert ids.tolist() == list(range(1, len(req) + 1))
    for e, p in per.items():
        assert (p["release"] == EPOCH_DURATION * e + MARGIN_DISPATCH).all()
        assert len(p["request_id"]) <= 100


# -- must dispatch and the Day -------------------------------------------------------------
@pytest.mark.parametrize("seed", SEEDS)
def test_must_dispatch_on_the_day_is_the_rule_at_every_epoch(instance, seed):
    want = literal_requests(instance, seed)
    day = euro_day(instance, seed)
    for e in range(instance.start_epoch, instance.end_epoch + 1):
        got = must_dispatch(day, e, end_epoch=instance.end_epoch, shift_end=instance.horizon)
        expected = [r["epoch"] <= e and literal_must_go(instance, r, e) for r in want]
        assert got.tolist() == expected, e
    last = must_dispatch(day, instance.end_epoch, end_epoch=instance.end_epoch, shift_end=instance.horizon)
    assert last.all()


def test_a_request_not_forced_now_is_still_feasible_next_epoch(instance):
    """What the rule promises: postponing a request that is not must-go keeps it servable."""
    day = euro_day(instance, 5)
    d, close = instance.duration, instance.horizon
    for e in range(instance.start_epoch, instance.end_epoch):
        free = (day.epoch <= e) & ~must_dispatch(day, e, end_epoch=instance.end_epoch, shift_end=close)
        leave = EPOCH_DURATION * (e + 1) + MARGIN_DISPATCH
        arrive = np.maximum(leave + d[0, day.node], day.earliest)
        assert (arrive[free] <= day.deadline[free]).all()
        assert (arrive[free] + day.service[free] + d[day.node, 0][free] <= close).all()


@pytest.mark.parametrize("seed", SEEDS)
def test_every_request_is_feasible_alone_at_its_release(instance, seed):
    day = euro_day(instance, seed)
    d = instance.duration
    arrive = day.release + d[0, day.node]
    start = np.maximum(arrive, day.earliest)
    assert (start <= day.deadline).all()
    assert (start + day.service + d[day.node, 0] <= instance.horizon).all()


def test_the_day_holds_the_requests(instance):
    req = sample_requests(instance, 11)
    day = euro_day(instance, 11, req)
    assert len(day) == len(req)
    assert (np.diff(day.release) >= 0).all()
    assert np.array_equal(day.release, EPOCH_DURATION * req.epoch + MARGIN_DISPATCH)
    assert np.array_equal(day.earliest, np.maximum(req.early, day.release))
    assert np.array_equal(day.deadline, req.late)  # the filter guarantees late >= release
    assert np.array_equal(day.node, req.customer) and np.array_equal(day.customer, req.customer)
    assert np.array_equal(day.epoch, req.epoch)
    assert np.array_equal(day.size, req.demand) and np.array_equal(day.service, req.service)
    xy = instance.coords[req.customer] - instance.coords[0]
    assert np.array_equal(day.x, xy[:, 0]) and np.array_equal(day.y, xy[:, 1])
    dist, dur = day.travel.matrices(np.array([0, 3, 1]))
    assert np.array_equal(dist, instance.duration[np.ix_([0, 3, 1], [0, 3, 1])]) and np.array_equal(dist, dur)


def test_the_minutes_day_is_the_seconds_day_over_60():
    inst = read_instance(FILES[25])
    sec, mins = euro_day(inst, 2), euro_day_minutes(FILES[25], 2)
    for f in ("release", "earliest", "deadline", "service"):
        assert np.allclose(getattr(mins, f) * 60, getattr(sec, f))
    assert np.allclose(mins.travel.duration * 60, sec.travel.duration)
    for e in range(inst.start_epoch, inst.end_epoch + 1):
        a = must_dispatch(sec, e, end_epoch=inst.end_epoch, shift_end=inst.horizon)
        b = must_dispatch(mins, e, end_epoch=inst.end_epoch, shift_end=inst.horizon / 60,
                          epoch_duration=60, margin=60)
        assert np.array_equal(a, b)


def test_the_rule_on_a_tiny_instance_where_every_bound_is_hit_exactly():
    """Equal durations and windows built so that arrivals and returns land exactly on the
    bounds: the filter and the must-go rule keep the competition's <= (and its > for
    must-go) at the boundaries, which the random instances hardly ever reach."""
    d = np.full((5, 5), 600, dtype=np.int64)
    np.fill_diagonal(d, 0)
    window = np.array([[0, 12000], [3600, 4200], [4200, 7800], [10800, 11100], [7800, 11400]])
    inst = EuroInstance(path="tiny", name="tiny", duration=d, coords=np.zeros((5, 2), dtype=np.int64),
                        demand=np.array([0, 1, 2, 3, 4]), service=np.array([0, 300, 600, 300, 600]),
                        time_window=window, capacity=10)
    assert (inst.start_epoch, inst.end_epoch) == (0, 2)
    for seed in range(5):
        want = literal_requests(inst, seed)
        req = sample_requests(inst, seed)
        assert req.early.tolist() == [r["early"] for r in want] and req.epoch.tolist() == [r["epoch"] for r in want]
        assert req.service.tolist() == [r["service"] for r in want]
        assert req.must_dispatch.tolist() == [literal_must_go(inst, r, r["epoch"]) for r in want]
        day = euro_day(inst, seed, req)
        for e in range(3):
            got = must_dispatch(day, e, end_epoch=2, shift_end=12000)
            assert got.tolist() == [r["epoch"] <= e and literal_must_go(inst, r, e) for r in want]
    edge = [r for r in literal_requests(inst, 0) if r["epoch"] == 0]
    assert any(r["late"] == 4200 for r in edge)  # arrives exactly at its latest time
    assert any(r["early"] == 10800 and r["service"] == 600 for r in edge)  # back exactly at 12000
