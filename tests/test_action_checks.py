"""Actions of the wrong shape, kind or range are refused in one line by every env, and every
PettingZoo face names unknown reset options in a warning (issue 21; not an error: PettingZoo's
own api tests probe ``reset`` with an arbitrary option): ``envs.core.actions.check_action``
for the Gymnasium envs and, per agent, ``SharedSpaceParallelEnv._checked_actions`` for the
PettingZoo faces."""

from __future__ import annotations

import importlib

import numpy as np
import pytest
from gymnasium import spaces

from envs.core.actions import check_action, check_actions
from envs.dispatch.env import SameDayDeliveryEnv
from envs.network.env import NetworkEnv
from envs.replenishment.fulfillment_center.env import FulfillmentCenterEnv
from envs.replenishment.lost_sales.env import LostSalesEnv
from envs.slotting.env import SlottingEnv
from tests.conftest import one_line_error

# -- the checker --------------------------------------------------------------------------------
SPACES = {"discrete": spaces.Discrete(5), "multidiscrete": spaces.MultiDiscrete([3, 4, 5]),
          "box": spaces.Box(-1.0, 1.0, shape=(3,), dtype=np.float32), "box1": spaces.Box(-1.0, 1.0, shape=(1,)),
          "multibinary": spaces.MultiBinary(3)}
GOOD = {"discrete": [0, np.int64(4), np.array(2), np.array([2])], "multidiscrete": [[0, 3, 4], np.array([2, 0, 1])],
        "box": [np.zeros(3, np.float32), [1, -1, 0]], "box1": [0.5, np.float32(-1.0), [0.0], np.array([1])],
        "multibinary": [np.array([0, 1, 1], np.int8), np.array([1.0, 0.0, 1.0], np.float32), [True, False, True]]}
BAD = {  # space -> (action, what the message ends with)
    "discrete": [(5, "got 5"), (-1, "got -1"), (True, "got dtype bool"), (1.0, "got dtype float64"),
                 ("1", "got dtype <U1"), (np.array([[1]]), "got shape (1, 1)"), ([1, 2], "got shape (2,)")],
    "multidiscrete": [(np.zeros((3, 1), np.int64), "got shape (3, 1)"), (np.zeros(4, np.int64), "got shape (4,)"),
                      ([0, 3, 5], "got values in [0, 5]"), ([0, -1, 0], "got values in [-1, 0]"),
                      (np.zeros(3), "got dtype float64"), ([[0, 1], [2]], "(not an array)")],
    "box": [(np.zeros((3, 1)), "got shape (3, 1)"), (np.full(3, np.nan), "got NaN"),
            ([0.0, 2.0, 0.0], "got values in [0.0, 2.0]"), (np.array(["a"] * 3), "got dtype <U1")],
    "box1": [(np.array([[0.5]]), "got shape (1, 1)"), (np.zeros(2), "got shape (2,)"), (float("nan"), "got nan"),
             (None, "got dtype object")],
    "multibinary": [(np.full(3, 2), "got values in [2, 2]"), (np.zeros((1, 3)), "got shape (1, 3)")],
}
BAD_CASES = [(name, action, end) for name, cases in BAD.items() for action, end in cases]


@pytest.mark.parametrize(("name", "action"), [(n, a) for n, acts in GOOD.items() for a in acts], ids=repr)
def test_actions_in_the_space_are_accepted(name, action):
    space = SPACES[name]
    checked = check_action(space, action)
    assert space.contains(np.asarray(checked, dtype=space.dtype).reshape(space.shape))


@pytest.mark.parametrize(("name", "action", "end"), BAD_CASES, ids=repr)
def test_actions_outside_the_space_are_one_line_naming_the_space_and_what_came(name, action, end):
    message = one_line_error(ValueError, check_action, SPACES[name], action, "actions['a']")
    assert message.startswith("actions['a']: expected ") and message.endswith(end), message


def test_check_actions_names_the_first_bad_agent():
    space = SPACES["discrete"]
    assert check_actions(space, [0, 1, 4], ["x", "y", "z"]).tolist() == [0, 1, 4]
    message = one_line_error(ValueError, check_actions, space, [0, np.zeros((2, 2), np.int64), 9], ["x", "y", "z"])
    assert message.startswith("actions['y']: expected an integer in [0, 4] (Discrete(5)), got shape (2, 2)")
    # one agent's bool among integers is refused, not promoted to 1 by NumPy
    message = one_line_error(ValueError, check_actions, space, [0, True, 1], ["x", "y", "z"])
    assert message == "actions['y']: expected an integer in [0, 4] (Discrete(5)), got dtype bool"


# -- Gymnasium envs: a wrong shape is refused and the env stays usable ------------------------------
def network_env():
    return NetworkEnv(n_skus=2)


GYM = {  # env maker -> an action of the wrong shape
    "Network-v0 (8, 1)": (network_env, lambda env: np.zeros((env.action_space.shape[0], 1), np.int64)),
    "Network-v0 (2, 4)": (network_env, lambda env: np.zeros((2, env.action_space.shape[0] // 2), np.int64)),
    "LostSales discrete (1, 1)": (LostSalesEnv, lambda env: np.array([[3]])),
    "LostSales continuous (1, 1)": (lambda: LostSalesEnv(action_type="continuous"), lambda env: np.array([[0.5]])),
    "FulfillmentCenter (n, 1)": (lambda: FulfillmentCenterEnv(n_skus=3), lambda env: np.zeros((3, 1), np.int64)),
    "Slotting (1, 1)": (lambda: SlottingEnv(invalid_action="nearest"), lambda env: np.array([[0]])),
    "SameDayDelivery (1, K)": (lambda: SameDayDeliveryEnv(max_orders=8), lambda env: np.zeros((1, 8), np.int8)),
}


@pytest.mark.parametrize("case", sorted(GYM))
def test_gymnasium_envs_refuse_an_action_of_the_wrong_shape(case):
    make, bad = GYM[case]
    env = make()
    env.reset(seed=0)
    action = bad(env)
    message = one_line_error(ValueError, env.step, action)
    assert message.startswith("action: expected ") and message.endswith(f"got shape {action.shape}"), message
    env.step(env.action_space.sample())  # still usable (a masked Discrete samples legal slots)


# -- PettingZoo faces -------------------------------------------------------------------------------
FACES = {"courier_dispatch_v0": {"n_vehicles": 2}, "fulfillment_center_v0": {"n_skus": 3, "episode_length": 4},
         "network_v0": {"n_skus": 2}, "slotting_v0": {"n_operators": 2}}


def face(name: str, aec: bool = False):
    module = importlib.import_module(f"envs.{name}")
    return (module.env if aec else module.parallel_env)(**FACES[name])


@pytest.mark.parametrize("name", sorted(FACES))
def test_a_wrong_shaped_action_of_one_agent_is_one_line_naming_the_agent_the_space_and_the_shape(name):
    env = face(name)
    env.reset(seed=0)
    agent = env.agents[-1]
    space = env.action_space(agent)
    actions = {a: space.sample() for a in env.agents}
    actions[agent] = np.zeros((2, 2), dtype=np.int64)
    message = one_line_error(ValueError, env.step, actions)
    assert message.startswith(f"actions[{agent!r}]: expected ") and message.endswith("got shape (2, 2)"), message


PROBE = {"options": 1}
"""What PettingZoo's ``parallel_api_test`` and ``api_test`` pass to ``reset``."""


@pytest.mark.parametrize("aec", [False, True], ids=["parallel", "aec"])
@pytest.mark.parametrize("name", sorted(FACES))
def test_unknown_reset_options_are_a_one_line_warning_and_none_or_empty_still_work(name, aec):
    import warnings

    env = face(name, aec)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # None and {} warn about nothing
        env.reset(seed=0, options=None)
        env.reset(seed=0, options={})
    for options in ({"start_day": 3}, PROBE):
        with pytest.warns(UserWarning) as caught:
            env.reset(seed=0, options=options)
        key = next(iter(options))
        messages = [str(w.message) for w in caught]
        assert f"reset(options=...): unknown option {key!r}; {name} accepts no reset options (None or {{}}); ignored" \
            in messages, messages
