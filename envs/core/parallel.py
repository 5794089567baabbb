"""What every PettingZoo face of this package does the same way.

:class:`SharedSpaceParallelEnv` is a ``ParallelEnv`` whose agents share one observation space
and one action space (so one shared policy can control them all): a subclass builds
``self._obs_space`` and ``self._act_space`` once in ``__init__``; ``observation_space(agent)``
and ``action_space(agent)`` return those same objects on every call (PettingZoo's
``functools.cache`` idiom, without a cache that would keep every env alive). It also holds what
the faces share:

* the render-mode check;
* the reset-options rule: no face has reset options; anything but None or ``{}`` is named in a
  one-line ``UserWarning`` and ignored (``envs.core.episode``). Not an error, unlike the
  Gymnasium envs: PettingZoo's own ``parallel_api_test`` and ``api_test`` call
  ``reset(seed=0, options={"options": 1})`` to check that the argument exists, and the official
  conformance suites must pass on every face as they are;
* the action dict of ``step``: one action for every live agent and no other key, each in the
  shared action space (``envs.core.actions.check_actions``: shape, dtype kind, bounds), else a
  one-line ``ValueError`` naming the agent, the expected space and what was received.
"""

from __future__ import annotations

import re
import warnings
from typing import Any

import numpy as np
from gymnasium import spaces
from pettingzoo import ParallelEnv

from envs.core.actions import check_actions
from envs.core.episode import unknown_reset_option


class SharedSpaceParallelEnv(ParallelEnv):
    """A ParallelEnv whose agents share one observation and one action space (module docstring)."""

    _obs_space: spaces.Space
    _act_space: spaces.Space

    def observation_space(self, agent: str) -> spaces.Space:
        return self._obs_space

    def action_space(self, agent: str) -> spaces.Space:
        return self._act_space

    def _set_render_mode(self, render_mode: str | None) -> None:
        """``render_mode``: None or one of ``metadata["render_modes"]``, else a one-line ValueError."""
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode: expected rgb_array or None, got {render_mode!r}")
        self.render_mode = render_mode

    def _check_reset_options(self, options: Any) -> None:
        """No face has reset options: anything but None or ``{}`` is named in a one-line
        ``UserWarning`` and ignored (module docstring: why not an error)."""
        problem = unknown_reset_option(options, self.metadata["name"])
        if problem is not None:
            warnings.warn(f"{problem}; ignored", UserWarning, stacklevel=3)

    def _checked_actions(self, actions: Any) -> np.ndarray:
        """The live agents' actions in agent order, stacked (``(len(agents), *space.shape)``), or
        a one-line ``ValueError`` (a non-dict, an unknown or missing agent, an action outside
        the shared action space, naming the agent)."""
        if not isinstance(actions, dict):
            raise ValueError(f"actions: expected a dict from agent to action, got {type(actions).__name__}")
        agents = self.agents
        try:
            values = [actions[a] for a in agents]
        except KeyError:
            values = None
        if values is None or len(actions) != len(agents):
            unknown = next((k for k in actions if k not in agents), None)
            if unknown is not None:
                text = repr(unknown)
                raise ValueError(f"actions: unknown agent {text if len(text) <= 40 else text[:37] + '...'}; "
                                 f"the agents are {_names(self.possible_agents)}")
            missing = [a for a in agents if a not in actions]
            more = f" and {len(missing) - 1} other agent(s)" if len(missing) > 1 else ""
            raise ValueError(f"actions: missing for {missing[0]!r}{more}; every live agent must act")
        return check_actions(self._act_space, values, agents)


def _names(agents: list[str]) -> str:
    """``sku_0..sku_199`` for a numbered series, else the names (cut to one short line)."""
    if len(agents) >= 3 and all(re.fullmatch(rf"{re.escape(agents[0][:-1])}{i}", a) for i, a in enumerate(agents)) \
            and agents[0].endswith("_0"):
        return f"{agents[0]}..{agents[-1]}"
    text = ", ".join(agents)
    return text if len(text) <= 200 else text[:197] + "..."
