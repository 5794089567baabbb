"""The slim Task: its required hooks, its data (algorithm allow-lists, model interfaces) and
the one CRN tuning evaluator, checked for every registered task."""

from __future__ import annotations

import numpy as np
import pytest

from agents.registry import task_class
from agents.rl.algorithms import ALGORITHMS, algorithm, check_algorithm
from agents.rl.interface import ModelInterface
from agents.seeds import TUNE_SEED_BASE
from agents.task import Task
from agents.tuning import Axis, CrnEvaluator, RaceSettings
from envs.core.config import ConfigError
from tests.conftest import ALL_TASKS, one_line_error
from tests.test_tasks import MULTI_AGENT, smoke_task


def test_a_new_task_implements_at_most_seven_required_hooks():
    assert len(Task.__abstractmethods__) <= 7, sorted(Task.__abstractmethods__)


@pytest.mark.parametrize("name", ALL_TASKS)
def test_the_allow_lists_name_known_algorithms_and_refuse_the_others_in_one_line(name):
    task = smoke_task(name)
    for shared, allowed in ((False, task.algorithms), (True, task.shared_algorithms)):
        if allowed is None or (shared and name not in MULTI_AGENT):
            continue
        assert set(allowed) <= set(ALGORITHMS), allowed
        refused = next((a for a in ALGORITHMS if a not in allowed and not ALGORITHMS[a].needs_problem), None)
        if refused is not None:
            message = one_line_error(ConfigError, check_algorithm, task, algorithm(refused), shared)
            assert message.startswith(f"agent={refused}:") and ", ".join(allowed) in message


def test_an_algorithm_of_the_wrong_action_type_is_refused_naming_the_config_field():
    task = task_class("lost_sales")()
    message = one_line_error(ConfigError, check_algorithm, task, algorithm("sac"), False)
    assert "env.action_type=continuous" in message and "env.action_type=discrete" in message
    check_algorithm(task_class("lost_sales")(action_type="continuous"), algorithm("sac"), False)


@pytest.mark.parametrize("name", ALL_TASKS)
def test_every_model_interface_speaks_the_protocol(name):
    task = smoke_task(name)
    faces = [False, True] if name in MULTI_AGENT else [False]
    for shared in faces:
        interface = task.model_interface(shared)
        assert isinstance(interface, ModelInterface), type(interface)
        assert interface.shared is shared


def test_with_training_returns_a_new_task_and_leaves_the_old_one_alone():
    task = task_class("newsvendor")()
    other = task.with_training({"n_agents": 5})
    assert (task.training.n_agents, other.training.n_agents) == (3, 5)
    assert other.config == task.config and len(other.make_parallel_env().possible_agents) == 5


class Counting:
    """A deterministic play: candidate q costs |q - 3| + (seed mod 7) / 10 on every seed."""

    def __init__(self):
        self.played: list[tuple[int, int]] = []

    def __call__(self, policies, seeds):
        self.played += [(p, int(s)) for p in policies for s in seeds]
        return [[abs(p - 3) + (int(s) % 7) / 10 for s in seeds] for p in policies]


def test_the_evaluator_plays_the_tuning_seeds_and_a_cached_candidate_only_on_new_ones():
    play = Counting()
    evaluator = CrnEvaluator(6, play, key=lambda p: p)
    first = evaluator.costs([1, 2], 2)
    more = evaluator.costs([2, 5], 4)
    assert np.array_equal(more[0, :2], first[1])
    assert sorted(play.played) == sorted([(1, TUNE_SEED_BASE), (1, TUNE_SEED_BASE + 1),
                                          *[(2, TUNE_SEED_BASE + r) for r in range(4)],
                                          *[(5, TUNE_SEED_BASE + r) for r in range(4)]])
    fresh = CrnEvaluator(6, Counting())  # no cache: the same numbers, every seed played again
    assert np.array_equal(fresh.costs([2, 5], 4), more)


def test_a_race_with_an_empty_axis_is_a_one_line_config_error():
    """E.g. the lost-sales constant order below a mean demand of zero: no candidate at all."""
    message = one_line_error(ConfigError, CrnEvaluator(4, Counting()).race, lambda q, s: q,
                             [Axis("q", np.arange(0)), Axis("s", [1, 2])], RaceSettings(4))
    assert message.startswith("tuning: ") and "of q " in message


def test_the_evaluator_races_candidates_built_from_python_scalars():
    built = []

    def make(q):
        built.append(type(q))
        return q

    result = CrnEvaluator(4, Counting(), key=lambda p: p).race(
        make, [Axis("q", np.arange(8))], RaceSettings(4, min_screen_reps=2))
    assert result.params == {"q": 3} and set(built) == {int}
