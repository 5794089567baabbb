"""The episode runner (``agents.runner``) and the policy kinds (``agents.base``): each kind is
played through the one runner, an object of no known kind is refused in one line, plan
recording is a callback that changes no result."""

from __future__ import annotations

import numpy as np
import pytest

from agents.base import (
    MultiAgentPolicy,
    ObservationPolicy,
    PlanPolicy,
    PolicyKind,
    SimulatorPolicy,
    policy_kind,
)
from agents.dispatch.task import DispatchTask
from agents.harness import EvalSettings, evaluate
from agents.network.heuristics import EchelonBaseStock, echelon_cover, levels_from_safety
from agents.network.task import NetworkTask
from agents.runner import EpisodeCallback, plan_writers
from agents.seeds import EVAL_SEED_BASE
from agents.slotting.task import SlottingTask
from envs.core.config import ConfigError
from tests.conftest import one_line_error
from tests.toy.env import period_cost
from tests.toy.task import Constant, NewsvendorTask

SEEDS = EVAL_SEED_BASE + np.arange(3)
SMOKE_DISPATCH = {"day_minutes": 180.0, "arrival_rates": [12.0, 12.0], "n_vehicles": 3, "max_orders": 12}


class PredictOnly:
    """SB3's predict, but no declared kind."""

    name = "predict_only"

    def predict(self, observation, state=None, episode_start=None, deterministic=True):
        return 0, state


class NoTrips(PlanPolicy):
    """Plans a day with no trip at all: every order fails."""

    name = "no_trips"

    def run_episode(self, sim) -> None:
        sim.execute(sim.day, [])


class Observing(ObservationPolicy):
    """A network heuristic played on the observations instead of the simulator."""

    def __init__(self, inner):
        self.inner, self.name, self.env_overrides = inner, "observing", inner.env_overrides

    def predict(self, observation, state=None, episode_start=None, deterministic=True):
        return self.inner.predict(observation, state, episode_start, deterministic)


class Waiting(MultiAgentPolicy):
    """Every courier waits (the env still dispatches must-go orders); records the rows it saw."""

    name = "waiting"

    def __init__(self, n_actions: int):
        self.n_actions, self.shapes = n_actions, []

    def predict(self, rows, state=None, episode_start=None, deterministic=True):
        self.shapes.append(np.shape(rows))
        return np.full(len(rows), self.n_actions - 1), state


class Counting(EpisodeCallback):
    def __init__(self):
        self.events = []

    def on_reset(self, seed, sim):
        self.events.append(("reset", seed))

    def on_step(self, sim):
        self.events.append("step")

    def on_end(self, seed, sim):
        self.events.append(("end", seed))


def test_every_policy_base_declares_its_kind():
    assert [b.kind for b in (ObservationPolicy, SimulatorPolicy, PlanPolicy, MultiAgentPolicy)] == list(PolicyKind)
    assert policy_kind(NoTrips()) is PolicyKind.PLAN


def test_a_policy_of_no_declared_kind_is_refused_in_one_line_naming_the_kinds():
    message = one_line_error(TypeError, NewsvendorTask().rollout, PredictOnly(), SEEDS, 10, 0)
    assert "declares no policy kind" in message
    for kind in PolicyKind:
        assert kind.value in message


def test_a_kind_the_task_does_not_play_is_a_one_line_config_error():
    message = one_line_error(ConfigError, NewsvendorTask().rollout, NoTrips(), SEEDS, 10, 0)
    assert message == "agents: no_trips is a plan policy; env=newsvendor plays observation policies"


def test_the_toy_rollout_equals_the_newsvendor_cost_on_each_seeds_demand_stream():
    """The runner's toy rollout (the env stepped per seed) equals the closed form on the
    demand ``default_rng(seed).poisson(mean, horizon)``, the toy's loop before the runner."""
    task, warmup, periods, q = NewsvendorTask(), 7, 50, 6
    got = task.rollout(Constant(q), SEEDS, periods, warmup)
    for r, seed in enumerate(SEEDS):
        demand = np.random.default_rng(int(seed)).poisson(5.0, warmup + periods)[warmup:]
        assert got["cost"][r] == pytest.approx(period_cost(q, demand, 1.0, 4.0).mean(), rel=1e-12)
        assert got["fill_rate"][r] == pytest.approx(np.minimum(q, demand).sum() / demand.sum(), rel=1e-12)


def test_a_simulator_policy_plays_on_the_simulator_as_on_the_observations():
    task = NetworkTask(n_skus=2, episode_length=45)
    net = task.network
    policy = EchelonBaseStock(net, levels_from_safety(net, echelon_cover(net), [1.0] * net.m))
    assert policy_kind(policy) is PolicyKind.SIMULATOR
    direct = task.rollout(policy, SEEDS, None, 5)
    observed = task.rollout(Observing(policy), SEEDS, None, 5)
    assert direct.keys() == observed.keys()
    for k in direct:
        np.testing.assert_array_equal(direct[k], observed[k])


def test_a_plan_policy_plays_one_whole_day_per_seed():
    task = DispatchTask(**SMOKE_DISPATCH)
    calls = Counting()
    kpis = task.rollout(NoTrips(), SEEDS, None, 0, callback=calls)
    np.testing.assert_array_equal(kpis["failed"], kpis["orders"])
    assert kpis["orders"].min() > 0 and kpis["delivered"].max() == 0
    assert calls.events == [e for s in SEEDS for e in (("reset", s), ("end", s))]  # no steps: one plan


def test_a_multi_agent_policy_gets_one_row_per_live_courier():
    task = DispatchTask(**SMOKE_DISPATCH)
    env = task.make_parallel_env()
    waiting = Waiting(env.action_space(env.possible_agents[0]).n)
    kpis = task.rollout(waiting, SEEDS[:1], None, 0)
    assert kpis["orders"][0] == kpis["delivered"][0] + kpis["failed"][0]
    assert waiting.shapes and all(s[0] <= SMOKE_DISPATCH["n_vehicles"] for s in waiting.shapes)


def test_a_task_without_plans_refuses_save_plans_in_one_line(tmp_path):
    message = one_line_error(ConfigError, plan_writers, NetworkTask(n_skus=2, episode_length=45), tmp_path)
    assert message == "save_plans: env=network has no plans to save"


def test_plan_recording_is_a_callback_that_changes_no_result(tmp_path):
    task = SlottingTask(n_aisles=3, slots_per_side=5, levels=2, n_skus=30, episode_loads=40)
    agents = {"closest": task.make_agent("closest"), "random": task.make_agent("random")}
    settings = EvalSettings(periods=20, warmup=5, reps=2, max_reps=2, target_rel_ci=0.0)
    plain = evaluate(task, agents, settings)
    recorded = evaluate(task, agents, settings, plans=plan_writers(task, tmp_path))
    assert plain.frame.equals(recorded.frame)
    written = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*.csv"))
    assert written == [f"{a}/episode_{r}.csv" for a in ("closest", "random") for r in (0, 1)]
    assert not hasattr(task, "plan_dir")  # the task holds no recording state


# Per-replication costs of seeds EVAL_SEED_BASE + 0, 1, 2 on the smoke instances, measured
# with the hand-written episode loops the runner replaced (471824b): the runner reproduces them.
BEFORE_THE_RUNNER = [
    ("fulfillment_center", "random", None, [111.625, 144.8, 124.275]),
    ("network", "random", None, [20.3, 23.1625, 21.1625]),
    ("dispatch", "greedy", None, [313.3373689061856, 267.4285998742163, 119.70159427691193]),
    ("dispatch", "nearest", None, [291.991314955467, 385.88850375519104, 343.06860230633856]),
    ("slotting", "closest", "single", [47.233333333333334, 49.56666666666667, 54.766666666666666]),
    ("slotting", "closest", "operators", [44.13333333333333, 45.46666666666667, 51.166666666666664]),
]


@pytest.mark.parametrize(("name", "agent", "rules_face", "costs"), BEFORE_THE_RUNNER,
                         ids=[f"{n}-{a}-{f}" for n, a, f, _ in BEFORE_THE_RUNNER])
def test_the_runner_reproduces_the_costs_of_the_loops_it_replaced(name, agent, rules_face, costs):
    from dataclasses import replace

    from tests.test_tasks import smoke_task

    task = smoke_task(name)
    if rules_face is not None:
        task.config = replace(task.config, rules_face=rules_face)
    e = task.evaluation
    assert task.rollout(task.make_agent(agent, smoke=True), SEEDS, e.periods, e.warmup)["cost"].tolist() == costs
