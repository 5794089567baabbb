"""PettingZoo's api tests on the faces of this package, with their reset-options probe answered.

``parallel_api_test`` and ``api_test`` call ``reset(seed=0, options={"options": 1})`` only to
check that ``reset`` takes an ``options`` argument. Every face here refuses an unknown reset
option with a one-line ``ValueError`` (README; ``SharedSpaceParallelEnv``), which would stop
the api test there. These wrappers hand exactly that probe on as ``options=None`` and change
nothing else; ``tests/test_action_checks.py`` checks that the faces refuse the probe."""

from __future__ import annotations

from pettingzoo.test import api_test as _api_test
from pettingzoo.test import parallel_api_test as _parallel_api_test
from pettingzoo.utils.wrappers import BaseParallelWrapper, BaseWrapper

PROBE = {"options": 1}
"""The options PettingZoo's api tests pass to ``reset``."""


def _options(options):
    return None if options == PROBE else options


class _ParallelProbe(BaseParallelWrapper):
    def reset(self, seed=None, options=None):
        return self.env.reset(seed=seed, options=_options(options))


class _AECProbe(BaseWrapper):
    def reset(self, seed=None, options=None):
        self.env.reset(seed=seed, options=_options(options))


def parallel_api_test(par_env, num_cycles: int = 1000) -> None:
    """PettingZoo's ``parallel_api_test`` on ``par_env`` (module docstring)."""
    _parallel_api_test(_ParallelProbe(par_env), num_cycles=num_cycles)


def api_test(env, num_cycles: int = 1000) -> None:
    """PettingZoo's ``api_test`` on the AEC ``env`` (module docstring)."""
    _api_test(_AECProbe(env), num_cycles=num_cycles)
