"""Bounded work (issue 21, docs/reliability.md): a config whose every value is in range but whose
sizes, rates and horizons multiply into hours of work or gigabytes of memory is refused when the
config is built, in one line naming the fields, their values and the limit; exit status 2 from the
command line. The shipped configs stay accepted (``tests/test_configs.py`` builds every one)."""

from __future__ import annotations

import time

import pytest

from agents.harness import MAX_PERIOD_REPS, EvalSettings
from agents.slotting.task import SlottingTask
from envs.core.config import ConfigError
from envs.dispatch.config import DispatchConfig, EuroNeuripsConfig
from envs.network.config import NetworkConfig
from envs.replenishment.fulfillment_center import config as fc_config
from envs.replenishment.fulfillment_center.config import FulfillmentConfig
from envs.slotting.config import SlottingConfig
from tests.entry_points import run_in_process

REFUSED = [  # the cases of issue 21, then one per further limit
    (SlottingConfig, {"launch_rate": 10, "retire_rate": 0, "episode_loads": 2000}, "env.launch_rate", "SKUs"),
    (SlottingConfig, {"lines_per_order": 1000, "batch_size": 10000}, "env.batch_size", "lines of a tour"),
    (SlottingConfig, {"n_aisles": 1000, "slots_per_side": 10000, "levels": 100}, "env.n_aisles", "slot count"),
    (SlottingConfig, {"slot_capacity": 100_000, "load_units": 100_000, "batch_size": 1, "lines_per_order": 1,
                      "launch_rate": 0.0, "episode_loads": 1}, "env.load_units", "tours per load"),
    (DispatchConfig, {"epoch_minutes": 0.001}, "env.epoch_minutes", "epochs of a day"),
    (DispatchConfig, {"arrival_rates": [10000, 10000]}, "env.arrival_rates", "orders of a day"),
    (FulfillmentConfig, {"episode_length": 100_000}, "env.n_skus", "SKU-periods"),
    (FulfillmentConfig, {"n_skus": 100_000}, "env.n_skus", "SKU-periods"),
    (NetworkConfig, {"n_skus": 100_000}, "env.n_skus", "node-SKUs of a period"),
    (NetworkConfig, {"episode_length": 1_000_000}, "env.n_skus", "node-SKU-periods"),
]


@pytest.mark.parametrize(("cls", "kwargs", "field", "what"), REFUSED,
                         ids=[f"{c.__name__}:{','.join(f'{k}={v}' for k, v in kw.items())}" for c, kw, _, _ in REFUSED])
def test_too_much_work_is_refused_at_once_in_one_line(cls, kwargs, field, what):
    start = time.process_time()
    with pytest.raises(ConfigError) as err:
        cls(**kwargs)
    message = str(err.value)
    assert time.process_time() - start < 0.5
    assert "\n" not in message and message.startswith(f"{field}: ") and what in message
    assert "above the limit" in message and "docs/reliability.md" in message


@pytest.mark.parametrize("cls", [SlottingConfig, DispatchConfig, EuroNeuripsConfig, FulfillmentConfig, NetworkConfig])
def test_the_defaults_are_within_the_limits(cls):
    cls()


def test_the_quoted_launch_rate_is_fine_for_a_default_episode_but_not_for_the_benchmark_s():
    """``launch_rate=10 retire_rate=0`` fills the 2,000 slots after ~1,000 loads (measured: a
    1,000-load episode plays in 0.1 s; the benchmark's 2,000-load episodes then hang): the task
    refuses it when built, for its evaluation episodes (warmup 1,000 + periods 1,000 loads)."""
    SlottingConfig(launch_rate=10, retire_rate=0)
    with pytest.raises(ConfigError, match=r"^env\.launch_rate: the expected SKUs at the episode's end .*episode_loads=2000"):
        SlottingTask(launch_rate=10, retire_rate=0)


def test_a_replayed_catalogue_is_bounded_once_its_skus_are_known(tmp_path, monkeypatch):
    """``n_skus: null`` takes every SKU of the CSV: checked when the file is read (a limit of 20
    SKU-periods here, so that a 3-SKU file trips it)."""
    path = tmp_path / "demand.csv"
    path.write_text("date,sku,demand\n" + "".join(f"2024-01-0{d},{s},1\n" for d in range(1, 8) for s in "abc"))
    config = FulfillmentConfig(demand_csv=str(path), n_skus=None, episode_length=7)
    assert config.build().n == 3
    monkeypatch.setattr(fc_config, "MAX_SKU_PERIODS", 20)
    with pytest.raises(ConfigError, match=r"^env\.n_skus: the SKU-periods .* \(env\.n_skus=3, env\.episode_length=7\)"):
        config.build()


@pytest.mark.parametrize(("periods", "warmup", "max_reps", "refused"), [
    (10_000_000, 0, 1024, True),  # eval.periods=1e7 (issue 21)
    (2000, 50, 4096, False),  # network_serial, the largest shipped evaluation
    (MAX_PERIOD_REPS // 5, 0, 5, False),
])
def test_evaluations_are_bounded_in_periods_times_replications(periods, warmup, max_reps, refused):
    if not refused:
        EvalSettings(periods, warmup, 1, max_reps, 0.0)
        return
    with pytest.raises(ConfigError, match=r"^validation\.periods: .*\(warmup \+ periods\) x max_reps"):
        EvalSettings(periods, warmup, 1, max_reps, 0.0, section="validation")


@pytest.mark.parametrize("overrides", [["env=dispatch", "env.epoch_minutes=0.001"], ["env=dispatch", "eval.periods=10000000"],
                                       ["env=slotting", "env.launch_rate=10", "env.retire_rate=0"]])
def test_the_command_line_refuses_in_one_line_and_exit_2(tmp_path, monkeypatch, capsys, overrides):
    args = [*overrides, f"hydra.run.dir={tmp_path / 'run'}"]
    result = run_in_process("experiments.benchmark", args, tmp_path, monkeypatch, capsys)
    result.assert_one_line_error("above the limit")
    assert not (tmp_path / "run" / "results.csv").exists()
