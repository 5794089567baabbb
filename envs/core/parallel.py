"""What every PettingZoo face of this package does the same way.

:class:`SharedSpaceParallelEnv` is a ``ParallelEnv`` whose agents share one observation space
and one action space (so one shared policy can control them all): a subclass builds
``self._obs_space`` and ``self._act_space`` once in ``__init__``; ``observation_space(agent)``
and ``action_space(agent)`` return those same objects on every call (PettingZoo's
``functools.cache`` idiom, without a cache that would keep every env alive). It also holds the
render-mode check and the reset-options rule that the faces share.
"""

from __future__ import annotations

import warnings
from typing import Any

from gymnasium import spaces
from pettingzoo import ParallelEnv

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

    def _warn_reset_options(self, options: Any) -> None:
        """No face has reset options: anything but None or ``{}`` is named in a warning and ignored."""
        problem = unknown_reset_option(options, self.metadata["name"])
        if problem is not None:
            warnings.warn(f"{problem}; ignored", UserWarning, stacklevel=3)
