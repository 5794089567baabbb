"""PettingZoo ``courier_dispatch_v0`` (one agent per courier of the same-day delivery fleet).

    from envs import courier_dispatch_v0
    par_env = courier_dispatch_v0.parallel_env(n_vehicles=10)
    aec_env = courier_dispatch_v0.env(n_vehicles=10)

See ``envs.dispatch.parallel_env.CourierDispatchEnv`` for the manual.
"""

from envs.dispatch.parallel_env import CourierDispatchEnv, env, parallel_env

__all__ = ["CourierDispatchEnv", "env", "parallel_env"]
