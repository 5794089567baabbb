"""Rendering and the episode protocol of ``fulfillgym/SameDayDelivery-v0``: frames at every
stage, one-line errors for a step before reset or after the end, for a wrong action and for
reset options; any binary dtype is accepted; Gymnasium's env checker passes. The property
tests of the dynamics: ``test_env_properties.py``."""

from __future__ import annotations

import gymnasium
import numpy as np
import pytest

from tests.conftest import one_line_error
from tests.dispatch.test_env_properties import ENV_ID, SMALL, make


def test_rendering_returns_an_rgb_uint8_array_at_every_stage():
    env = make({"n_vehicles": 3, "max_orders": 8}, render_mode="rgb_array")
    env.reset(seed=0)
    frames = [env.render()]
    done = False
    while not done:
        _, _, done, _, _ = env.step(np.ones(8, dtype=np.int8))
        if len(frames) < 3 or done:
            frames.append(env.render())
    for frame in frames:
        assert isinstance(frame, np.ndarray) and frame.dtype == np.uint8
        assert frame.ndim == 3 and frame.shape[2] == 3 and frame.shape[0] > 0 and frame.shape[1] > 0
    assert make({}).render() is None  # no render_mode
    with pytest.raises(ValueError, match=r"^render_mode: "):
        make({}, render_mode="human")


def test_step_before_reset_and_after_the_end_are_one_line_runtime_errors():
    env = make({"max_orders": 8})
    message = one_line_error(RuntimeError, env.step, np.zeros(8, dtype=np.int8))
    assert message == "step() called before reset(); call reset() first"
    env.reset(seed=0)
    done = False
    while not done:
        _, _, done, _, _ = env.step(np.zeros(8, dtype=np.int8))
    message = one_line_error(RuntimeError, env.step, np.zeros(8, dtype=np.int8))
    assert message.startswith("step() called after the episode ended") and "reset()" in message
    env.reset(seed=1)  # a reset starts a new day
    env.step(np.zeros(8, dtype=np.int8))


K_BAD = 4
BAD_ACTIONS = {
    "too_long": np.zeros(K_BAD + 1, dtype=np.int8),
    "too_short": np.zeros(K_BAD - 1, dtype=np.int8),
    "2d": np.zeros((1, K_BAD), dtype=np.int8),
    "scalar": 1,
    "two": np.full(K_BAD, 2),
    "minus_one": np.full(K_BAD, -1),
    "half": np.full(K_BAD, 0.5),
    "nan": np.full(K_BAD, np.nan),
    "string": "1" * K_BAD,
    "strings": ["0", "1", "0", "1"],
    "none": None,
    "dict": {"a": 1},
    "ragged": [[0, 1], [1], [0], [1]],
    "objects": np.array([1, None, 0, 0], dtype=object),
    "mixed_objects": np.array([1, "a", 0, 0], dtype=object),
}


@pytest.mark.parametrize("name", list(BAD_ACTIONS))
def test_a_wrong_action_is_a_one_line_value_error_naming_action(name):
    env = make({"max_orders": K_BAD})
    env.reset(seed=0)
    message = one_line_error(ValueError, env.step, BAD_ACTIONS[name])
    assert message.startswith("action: ") and f"MultiBinary({K_BAD})" in message, message
    env.step(np.zeros(K_BAD, dtype=np.int8))  # the env is still usable


@pytest.mark.parametrize("good", [np.ones(K_BAD, dtype=bool), [0, 1, 0, 1], np.ones(K_BAD, dtype=np.float32),
                                  (1, 1, 1, 1)], ids=["bool", "list", "float32", "tuple"])
def test_binary_actions_of_any_numeric_dtype_are_accepted(good):
    env = make({"max_orders": K_BAD})
    env.reset(seed=0)
    env.step(good)


@pytest.mark.parametrize("options", [{"start": 3}, {"seed": 1}, [1], "x"], ids=repr)
def test_reset_options_other_than_none_or_empty_are_refused(options):
    env = make({})
    message = one_line_error(ValueError, env.reset, seed=0, options=options)
    assert message.startswith("reset(options=...): ")
    if isinstance(options, dict):
        assert repr(next(iter(options))) in message
    wrapped = gymnasium.make(ENV_ID, **SMALL)
    with pytest.raises(ValueError, match=r"^reset\(options=\.\.\.\)"):
        wrapped.reset(options=options)


def test_reset_accepts_no_options_or_an_empty_dict():
    env = make({})
    first, _ = env.reset(seed=3)
    again, _ = env.reset(seed=3, options={})
    same, _ = env.reset(seed=3, options=None)
    assert np.array_equal(first, again) and np.array_equal(first, same)


def test_gymnasium_env_checker_passes_for_flat_and_dict():
    from gymnasium.utils.env_checker import check_env

    for observation in ("flat", "dict"):
        env = gymnasium.make(ENV_ID, **SMALL, n_vehicles=2, max_orders=8, observation=observation,
                             render_mode="rgb_array")
        check_env(env.unwrapped, skip_render_check=False)
