"""PettingZoo ``fulfillment_center_v0`` (one agent per SKU of the fulfilment centre).

    from envs import fulfillment_center_v0
    par_env = fulfillment_center_v0.parallel_env(n_skus=20)
    aec_env = fulfillment_center_v0.env(n_skus=20)

See ``envs.replenishment.fulfillment_center.parallel_env.FulfillmentCenterParallelEnv`` for the manual.
"""

from envs.replenishment.fulfillment_center.parallel_env import (
    FulfillmentCenterParallelEnv,
    env,
    parallel_env,
)

__all__ = ["FulfillmentCenterParallelEnv", "env", "parallel_env"]
