"""Multi-SKU demand models, catalogues, the demand CSV loader and the history generator."""

from __future__ import annotations

import gzip
import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from envs.core.config import ConfigError
from envs.replenishment.demand.catalogue import (
    NEVER,
    Catalogue,
    generate_history,
    main,
    synthetic_catalogue,
    write_demand_csv,
)
from envs.replenishment.demand.history import load_demand_csv
from envs.replenishment.demand.processes import DemandModelConfig, DemandProcess

SAMPLE = Path(__file__).resolve().parents[2] / "data" / "fc_sample_200x730.csv"


def _catalogue(mean, intermittency=None, launch=None, retire=None, dates=None) -> Catalogue:
    mean = np.asarray(mean, dtype=float)
    n = len(mean)
    return Catalogue(
        skus=tuple(f"S{i}" for i in range(n)),
        mean_demand=mean,
        volume=np.ones(n),
        unit_cost=np.zeros(n),
        price=np.zeros(n),
        lead_time=np.full(n, 2),
        intermittency=np.ones(n) if intermittency is None else np.asarray(intermittency, float),
        launch_day=np.zeros(n, int) if launch is None else np.asarray(launch),
        retire_day=np.full(n, NEVER) if retire is None else np.asarray(retire),
        dates=dates,
    )


def _draw(model, cat, seed, size, start=0, replay=False):
    process = DemandProcess(model, cat, replay=replay)
    process.reset(np.random.default_rng(seed), start)
    return process.next_block(size)


# -- demand process ------------------------------------------------------------------------
@pytest.mark.parametrize("seed", [0, 1, 12345])
def test_default_block_is_exactly_one_poisson_draw(seed):
    rng = np.random.default_rng(seed)
    process = DemandProcess(DemandModelConfig(), Catalogue.uniform(1, mean_demand=5.0))
    process.reset(rng, 17)
    block = process.next_block(4096)
    ref = np.random.default_rng(seed)
    assert block.dtype == np.int64 and block.shape == (4096, 1)
    np.testing.assert_array_equal(block[:, 0], ref.poisson(5.0, 4096))
    assert rng.random() == ref.random()  # nothing else was drawn
    assert process.day == 17 + 4096


def test_default_multi_sku_block_is_one_poisson_call():
    cat = synthetic_catalogue(30, np.random.default_rng(0))
    cat = replace(cat, intermittency=np.ones(cat.n))
    ref = np.random.default_rng(5)
    expected = [ref.poisson(cat.mean_demand, size=(64, cat.n)), ref.poisson(cat.mean_demand, size=(8, cat.n))]
    process = DemandProcess(DemandModelConfig(), cat)
    process.reset(np.random.default_rng(5), 0)
    np.testing.assert_array_equal(process.next_block(64), expected[0])
    np.testing.assert_array_equal(process.next_block(8), expected[1])
    # with intermittent=False the catalogue's intermittency is ignored: the same single draw
    process = DemandProcess(DemandModelConfig(intermittent=False), synthetic_catalogue(30, np.random.default_rng(0)))
    process.reset(np.random.default_rng(5), 0)
    np.testing.assert_array_equal(process.next_block(64), expected[0])


def test_mean_demand_matches_rate():
    model = DemandModelConfig(distribution="negative_binomial", dispersion=3.0, weekly=(1, 1, 1, 1, 1, 2, 2),
                              yearly_amplitude=0.4, trend=0.2)
    cat = _catalogue([0.5, 4.0, 20.0, 0.3], intermittency=[1, 1, 1, 0.1])
    process = DemandProcess(model, cat)
    process.reset(np.random.default_rng(0), 100)
    days = 4000
    demand = process.next_block(days)
    rate = process.rate(np.arange(100, 100 + days))
    assert rate.shape == (days, 4)
    ratio = demand.mean(axis=0) / rate.mean(axis=0)
    assert (abs(ratio[:3] - 1) < 0.04).all(), ratio
    assert abs(ratio[3] - 1) < 0.15, ratio  # lumpy (sizes ~10): standard error ~5%
    # dispersion: variance / mean of the de-seasonalised demand ~ 3 for the regular SKUs
    resid = (demand[:, 2] - rate[:, 2]) / np.sqrt(rate[:, 2])
    assert 2.5 < resid.var() < 3.5


def test_intermittent_zero_fraction():
    # SKU 0 intermittent (p = 0.2, rate 0.6 >= p): 80% zero periods, sizes 1 + Poisson(2);
    # SKU 1 regular with the same mean: Poisson zero fraction exp(-0.6)
    cat = _catalogue([0.6, 0.6, 0.05], intermittency=[0.2, 1.0, 0.2])
    demand = _draw(DemandModelConfig(), cat, 1, 40_000)
    zero = (demand == 0).mean(axis=0)
    assert abs(zero[0] - 0.8) < 0.01
    assert abs(zero[1] - math.exp(-0.6)) < 0.01
    assert abs(zero[2] - 0.95) < 0.01  # rate < p: demand of 1 with probability rate
    assert demand[:, 2].max() == 1
    np.testing.assert_allclose(demand.mean(axis=0), [0.6, 0.6, 0.05], rtol=0.05)
    positive = demand[:, 0][demand[:, 0] > 0]
    assert abs(positive.mean() - 3.0) < 0.1
    # intermittent=False: every SKU is Poisson
    flat = _draw(DemandModelConfig(intermittent=False), cat, 1, 40_000)
    assert abs((flat[:, 0] == 0).mean() - math.exp(-0.6)) < 0.01


def test_promotions_raise_demand_and_carry_across_blocks():
    p, length, uplift = 0.05, 4, 3.0
    model = DemandModelConfig(promo_probability=p, promo_length=length, promo_uplift=uplift)
    cat = Catalogue.uniform(40, mean_demand=2.0)
    demand = _draw(model, cat, 0, 5000)
    active = length / (length + (1 - p) / p)  # renewal: off ~ geometric, then `length` on
    assert abs(demand.mean() / (2.0 * (1 + active * (uplift - 1))) - 1) < 0.03
    assert demand.mean() > 1.25 * _draw(DemandModelConfig(), cat, 0, 5000).mean()
    # the promotion state carries across blocks exactly as a period-by-period simulation
    process = DemandProcess(model, cat)
    rng, ref = np.random.default_rng(3), np.random.default_rng(3)
    process.reset(rng, 0)
    left = np.zeros(cat.n, dtype=np.int64)
    for size in (7, 1, 30, 3, 100, 2):
        got = process._promotions(rng, size)
        u = ref.random((size, cat.n))
        want = np.zeros((size, cat.n), dtype=bool)
        for t in range(size):
            left[(left == 0) & (u[t] < p)] = length
            want[t] = left > 0
            left = np.maximum(left - 1, 0)
        np.testing.assert_array_equal(got, want)


def test_weekly_pattern_follows_the_calendar():
    model = DemandModelConfig(weekly=(1, 1, 1, 1, 1, 3, 3))
    cat = Catalogue.uniform(20, mean_demand=5.0)
    demand = _draw(model, cat, 0, 700).sum(axis=1)
    dow = np.arange(700) % 7  # day 0 is a Monday
    weekend, weekday = demand[dow >= 5].mean(), demand[dow < 5].mean()
    assert abs(weekend / weekday - 3.0) < 0.15
    assert abs(demand.mean() / 100.0 - 1.0) < 0.03  # normalised to mean 1
    # a dated catalogue starting on a Saturday: days 0 and 1 are the weekend
    dated = _catalogue([1.0], dates=np.datetime64("2024-01-06") + np.arange(3))
    rate = DemandProcess(model, dated).rate(np.arange(7))[:, 0]
    np.testing.assert_allclose(rate, np.array([3, 3, 1, 1, 1, 1, 1]) * 7 / 11)


def test_yearly_trend_and_lifecycle_rate():
    model = DemandModelConfig(yearly_amplitude=0.5, yearly_peak_day=330, trend=0.1)
    cat = _catalogue([2.0, 2.0], launch=[10, -1], retire=[NEVER, 20])
    rate = DemandProcess(model, cat).rate(np.array([0, 9, 10, 19, 20, 330, 695]))
    assert rate[0, 0] == 0 and rate[1, 0] == 0 and rate[2, 0] > 0
    assert rate[3, 1] > 0 and rate[4, 1] == 0 and rate[5, 1] == 0
    assert rate[5, 0] == pytest.approx(2.0 * 1.5 * 1.1 ** (330 / 365))
    assert rate[6, 0] == pytest.approx(2.0 * 1.5 * 1.1 ** (695 / 365))
    demand = _draw(model, _catalogue([50.0, 50.0], launch=[10, 0], retire=[NEVER, 20]), 0, 40)
    assert demand[:10, 0].sum() == 0 and demand[10:, 0].min() > 0
    assert demand[20:, 1].sum() == 0 and demand[:20, 1].min() > 0


def test_same_seed_same_block_and_stream_continuity():
    model = DemandModelConfig(distribution="negative_binomial", weekly=(2, 1, 1, 1, 1, 1, 1),
                              promo_probability=0.02)
    cat = synthetic_catalogue(25, np.random.default_rng(1))
    a, b = _draw(model, cat, 7, 50), _draw(model, cat, 7, 50)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, _draw(model, cat, 8, 50))
    # consecutive blocks continue the calendar (same distribution as one block; the draws
    # are not identical to one block of the combined size because NumPy draws row-major)
    process = DemandProcess(model, cat)
    process.reset(np.random.default_rng(7), 3)
    process.next_block(5)
    assert process.day == 8
    process.next_block(5)
    assert process.day == 13


def test_replay_blocks_rate_and_end_of_history():
    hist = np.arange(60 * 2, dtype=np.int64).reshape(60, 2)
    cat = replace(_catalogue([1.0, 2.0]), history=hist, dates=np.datetime64("2024-01-01") + np.arange(60))
    process = DemandProcess(DemandModelConfig(), cat, replay=True)
    process.reset(np.random.default_rng(0), 4)
    first = np.concatenate([process.next_block(5), process.next_block(5)])
    np.testing.assert_array_equal(first, hist[4:14])
    process.reset(np.random.default_rng(0), 4)
    np.testing.assert_array_equal(process.next_block(10), first)
    rate = process.rate(np.array([0, 27, 28, 40, 60, 99]))
    np.testing.assert_allclose(rate[0], [1.0, 2.0])
    np.testing.assert_allclose(rate[2], hist[:28].mean(axis=0))
    np.testing.assert_allclose(rate[3], hist[12:40].mean(axis=0))
    np.testing.assert_allclose(rate[5], hist[32:60].mean(axis=0))
    process.reset(np.random.default_rng(0), 55)
    with pytest.raises(ConfigError, match=r"^env\.episode_length: .*60 days"):
        process.next_block(6)
    with pytest.raises(ConfigError, match=r"^env\.start_day: "):
        process.reset(np.random.default_rng(0), 60)


def test_demand_model_config_validation():
    cfg = DemandModelConfig.from_value({"weekly": [1, 2, 3, 4, 5, 6, 7], "trend": 0.1})
    assert cfg.weekly == (1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0)
    assert DemandModelConfig.from_value(None) == DemandModelConfig()
    bad = {
        "distribution": "gamma",
        "dispersion": 1.0,
        "weekly": [1, 2, 3],
        "yearly_amplitude": 1.0,
        "yearly_peak_day": 365,
        "trend": -1.0,
        "promo_probability": 1.5,
        "promo_length": 0,
        "promo_uplift": 0.5,
        "intermittent": "yes",
    }
    for key, value in bad.items():
        with pytest.raises(ConfigError) as err:
            DemandModelConfig.from_value({key: value})
        msg = str(err.value)
        assert msg.startswith(f"env.demand.{key}: expected") and "\n" not in msg, msg
    for weekly in ([0] * 7, [1, 1, 1, 1, 1, 1, -1], "1234567"):
        with pytest.raises(ConfigError, match=r"env\.demand\.weekly: expected 7 non-negative numbers"):
            DemandModelConfig(weekly=weekly)
    with pytest.raises(ConfigError, match=r"^env\.demand\.seasonality: unknown option; accepted"):
        DemandModelConfig.from_value({"seasonality": 1})


# -- catalogues ----------------------------------------------------------------------------
def test_synthetic_catalogue_is_a_long_tail():
    cat = synthetic_catalogue(500, np.random.default_rng(0))
    assert cat.n == 500 and cat.skus[0] == "SKU00001"
    ranked = np.sort(cat.mean_demand)[::-1]
    assert 0.7 < ranked[:100].sum() / ranked.sum() < 0.9
    assert 0.03 < cat.mean_demand.min() < 0.2 and 30 < cat.mean_demand.max() <= 80
    slow = cat.mean_demand < 1
    assert (cat.intermittency[slow] < 1).all() and (cat.intermittency[~slow] == 1).all()
    assert ((cat.price >= 1.19 * cat.unit_cost) & (cat.price <= 2.51 * cat.unit_cost)).all()
    assert set(np.unique(cat.lead_time)) <= set(range(1, 8)) and len(np.unique(cat.lead_time)) > 3
    assert (cat.volume >= 0.1).all() and (cat.volume <= 50).all()
    again = synthetic_catalogue(500, np.random.default_rng(0), lead_time=3)
    np.testing.assert_array_equal(again.mean_demand, cat.mean_demand)
    assert (again.lead_time == 3).all()
    with pytest.raises(ValueError):
        cat.mean_demand[0] = 1.0  # read-only


def test_popularity_class_subset_and_uniform():
    cat = _catalogue([1.0, 50.0, 10.0, 30.0, 5.0, 4.0])  # total 100
    np.testing.assert_array_equal(cat.popularity_class(), ["C", "A", "B", "A", "B", "C"])
    sub = cat.subset(3)
    assert sub.skus == ("S1", "S2", "S3")  # catalogue order kept
    np.testing.assert_array_equal(sub.mean_demand, [50.0, 10.0, 30.0])
    assert _catalogue([2.0, 2.0, 2.0]).subset(2).skus == ("S0", "S1")  # ties by index
    with pytest.raises(ConfigError, match=r"^env\.n_skus: expected an integer in \[1, 6\]"):
        cat.subset(7)
    uni = Catalogue.uniform(4, mean_demand=3.0, lead_time=5, unit_cost=2.0)
    assert uni.n == 4 and (uni.lead_time == 5).all() and (uni.intermittency == 1).all()
    assert (uni.launch_day <= 0).all() and (uni.retire_day >= NEVER).all()
    assert Catalogue.uniform(3, mean_demand=1e-6).mean_demand[0] == 0.01  # floored


# -- CSV -------------------------------------------------------------------------------------
def test_load_committed_sample():
    cat = load_demand_csv(SAMPLE)
    assert cat.history.shape == (730, 200) and cat.n == 200
    assert cat.skus == tuple(sorted(cat.skus)) and cat.skus[0] == "SKU00001"
    assert str(cat.dates[0]) == "2024-01-01" and str(cat.dates[-1]) == "2025-12-30"
    assert (cat.history >= 0).all() and cat.history.sum() > 0
    assert ((cat.intermittency > 0) & (cat.intermittency <= 1)).all()
    assert (cat.volume > 0).all() and (cat.lead_time >= 1).all()
    assert (cat.launch_day > 0).sum() >= 10 and (cat.retire_day < NEVER).sum() >= 10


def test_generate_write_load_round_trip(tmp_path):
    gen = generate_history(20, 90, np.random.default_rng(4), start="2023-11-01")
    path = tmp_path / "h.csv"
    write_demand_csv(gen, path)
    cat = load_demand_csv(path)
    assert cat.skus == gen.skus
    np.testing.assert_array_equal(cat.history, gen.history)
    np.testing.assert_array_equal(cat.dates, gen.dates)
    for name in ("unit_cost", "price", "volume"):
        np.testing.assert_allclose(getattr(cat, name), getattr(gen, name), rtol=1e-12)
    np.testing.assert_array_equal(cat.lead_time, gen.lead_time)
    np.testing.assert_allclose(cat.mean_demand, np.maximum(gen.history.mean(axis=0), 0.01))
    # launched SKUs sell nothing before launch, retired SKUs nothing after
    for i in range(gen.n):
        assert gen.history[: max(gen.launch_day[i], 0), i].sum() == 0
        assert gen.history[min(gen.retire_day[i], 90):, i].sum() == 0
    again = generate_history(20, 90, np.random.default_rng(4), start="2023-11-01")
    np.testing.assert_array_equal(again.history, gen.history)


def test_cli(tmp_path, capsys):
    out = tmp_path / "x.csv"
    assert main(["--n-skus", "5", "--days", "12", "--seed", "1", "--out", str(out)]) == 0
    assert load_demand_csv(out).history.shape == (12, 5)
    assert main(["--n-skus", "0", "--out", str(out)]) == 2
    assert "--n-skus: expected an integer >= 1" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0


GOOD = "date,sku,demand\n2024-01-01,A,1\n2024-01-01,B,0\n2024-01-02,A,2\n2024-01-02,B,3\n"


def test_load_minimal_csv_defaults(tmp_path):
    path = tmp_path / "ok.csv"
    path.write_text(GOOD.replace("\n2024-01-02", "\n\n2024-01-02", 1))  # a blank line is fine
    cat = load_demand_csv(path, lead_time=4)
    np.testing.assert_array_equal(cat.history, [[1, 0], [2, 3]])
    assert cat.skus == ("A", "B") and (cat.lead_time == 4).all()
    assert (cat.volume == 1).all() and (cat.unit_cost == 0).all() and (cat.price == 0).all()
    np.testing.assert_allclose(cat.mean_demand, [1.5, 1.5])
    np.testing.assert_allclose(cat.intermittency, [1.0, 0.5])
    gz = tmp_path / "ok.csv.gz"
    gz.write_bytes(gzip.compress(GOOD.encode()))
    np.testing.assert_array_equal(load_demand_csv(gz).history, [[1, 0], [2, 3]])


def _rows(*rows: str, header: str = "date,sku,demand") -> str:
    return "\n".join([header, *rows]) + "\n"


CSV_CASES = {
    "missing_column": (_rows("2024-01-01,A", header="date,sku"), ["column 'demand'", "missing required",
                                                                    "accepted columns are date, sku, demand"]),
    "unknown_column": (_rows("2024-01-01,A,1,red", header="date,sku,demand,colour"),
                       ["column 'colour'", "unknown column", "accepted columns are"]),
    "duplicate_column": (_rows("2024-01-01,A,1,2", header="date,sku,demand,demand"), ["column 'demand'",
                                                                                       "twice"]),
    "field_count": (_rows("2024-01-01,A,1", "2024-01-01,B,1,9", "2024-01-02,A"),
                    ["expected 3 fields", "line(s) 3 (4 fields), 4 (2 fields)"]),
    "bad_date": (_rows("2024-01-01,A,1", "2024-13-01,A,1", "2024-01-02,A,1", "yesterday,A,1"),
                 ["column 'date'", "YYYY-MM-DD", "lines 3 ('2024-13-01'), 5 ('yesterday')"]),
    "empty_sku": (_rows("2024-01-01,A,1", "2024-01-01, ,1"), ["column 'sku'", "line 3 (empty)"]),
    "non_numeric_demand": (_rows("2024-01-01,A,1", "2024-01-01,B,abc", "2024-01-01,C,"),
                           ["column 'demand'", "non-number", "lines 3 ('abc'), 4 ('')"]),
    "negative_demand": (_rows("2024-01-01,A,-2", "2024-01-01,B,1"), ["column 'demand'", "negative",
                                                                      "line 2 ('-2')"]),
    "fractional_demand": (_rows("2024-01-01,A,1.5", "2024-01-01,B,2.0"), ["column 'demand'", "fraction",
                                                                          "line 2 ('1.5')"]),
    "many_bad_lines": (_rows(*[f"2024-01-01,S{i},x" for i in range(8)]),
                       ["column 'demand'", "lines 2 ('x'), 3 ('x'), 4 ('x'), 5 ('x'), 6 ('x') and 3 more"]),
    "duplicate_row": (_rows("2024-01-01,A,1", "2024-01-01,B,1", "2024-01-01,A,2"),
                      ["columns 'date', 'sku'", "duplicate", "line 4 (2024-01-01, 'A', first at line 2)"]),
    "date_gap": (_rows("2024-01-01,A,1", "2024-01-02,A,1", "2024-01-04,A,1"),
                 ["column 'date'", "no rows for 2024-01-03", "1 of the 4 days"]),
    "sku_missing": (_rows("2024-01-01,A,1", "2024-01-01,B,1", "2024-01-02,A,1", "2024-01-03,A,0",
                          "2024-01-03,B,0"), ["column 'sku'", "SKU 'B' has no row for 2024-01-02"]),
    "volume": (_rows("2024-01-01,A,1,0", "2024-01-01,B,1,2", header="date,sku,demand,volume"),
               ["column 'volume'", "> 0", "line 2 ('0')"]),
    "unit_cost": (_rows("2024-01-01,A,1,1", "2024-01-01,B,1,-3", header="date,sku,demand,unit_cost"),
                  ["column 'unit_cost'", ">= 0", "line 3 ('-3')"]),
    "price": (_rows("2024-01-01,A,1,-1", header="date,sku,demand,price"), ["column 'price'", "line 2"]),
    "lead_time_zero": (_rows("2024-01-01,A,1,0", "2024-01-01,B,1,1.5", header="date,sku,demand,lead_time"),
                       ["column 'lead_time'", "integer >= 1", "lines 2 ('0'), 3 ('1.5')"]),
    "varying_price": (_rows("2024-01-01,A,1,3.0", "2024-01-02,A,1,3", "2024-01-03,A,1,4",
                            header="date,sku,demand,price"),
                      ["column 'price'", "one value per SKU", "line 4 (SKU 'A': '4', first '3.0' at line 2)"]),
    "header_only": ("date,sku,demand\n", ["no data rows"]),
    "empty": ("", ["empty file"]),
}


@pytest.mark.parametrize("case", sorted(CSV_CASES))
def test_csv_validation(tmp_path, case):
    text, fragments = CSV_CASES[case]
    path = tmp_path / f"{case}.csv"
    path.write_text(text)
    with pytest.raises(ConfigError) as err:
        load_demand_csv(path)
    msg = str(err.value)
    assert msg.startswith(f"env.demand_csv: {path}: ") and "\n" not in msg, msg
    for fragment in fragments:
        assert fragment in msg, msg


def test_csv_file_errors(tmp_path):
    cases = {
        tmp_path / "absent.csv": "file not found",
        tmp_path: "is a directory",
    }
    binary = tmp_path / "image.csv"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\x00\xff\xfe\x00")
    cases[binary] = "not a readable CSV"
    for path, fragment in cases.items():
        with pytest.raises(ConfigError) as err:
            load_demand_csv(path, field="env.x")
        msg = str(err.value)
        assert msg.startswith(f"env.x: {path}: ") and fragment in msg and "\n" not in msg, msg


@pytest.mark.parametrize("distribution", ["poisson", "negative_binomial"])
def test_stationary_fast_path_draws_exactly_what_the_general_path_draws(distribution):
    from envs.replenishment.fulfillment_center.config import FulfillmentConfig

    problem = FulfillmentConfig(n_skus=300, demand={"distribution": distribution}).build()
    process = DemandProcess(problem.config.demand, problem.catalogue)
    assert process._int_idx.size and process._reg_idx.size  # both kinds of SKU are exercised
    process.reset(np.random.default_rng(5), 0)
    fast = np.concatenate([process.next_block(16) for _ in range(3)])
    rng, blocks = np.random.default_rng(5), []
    for b in range(3):  # the general path: a (periods x N) rate matrix first
        rate = process._rate_matrix(np.arange(16 * b, 16 * b + 16))
        out = np.empty((16, process.n), dtype=np.int64)
        out[:, process._reg_idx] = process._regular(rng, rate[:, process._reg_idx])
        out[:, process._int_idx] = process._intermittent(rng, rate[:, process._int_idx])
        blocks.append(out)
    assert np.array_equal(fast, np.concatenate(blocks))
