"""PettingZoo ``slotting_v0`` (several putaway operators storing inbound loads at once).

    from envs import slotting_v0
    par_env = slotting_v0.parallel_env(n_operators=3)
    aec_env = slotting_v0.env(n_operators=3)

See ``envs.slotting.parallel_env.SlottingParallelEnv`` for the manual.
"""

from envs.slotting.parallel_env import SlottingParallelEnv, env, parallel_env

__all__ = ["SlottingParallelEnv", "env", "parallel_env"]
