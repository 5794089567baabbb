"""PettingZoo ``network_v0`` (one agent per stocking node of a multi-echelon network).

    from envs import network_v0
    par_env = network_v0.parallel_env(n_skus=5)
    aec_env = network_v0.env(n_skus=5)

See ``envs.network.parallel_env.NetworkParallelEnv`` for the manual.
"""

from envs.network.parallel_env import NetworkParallelEnv, env, parallel_env

__all__ = ["NetworkParallelEnv", "env", "parallel_env"]
