"""FulfillGym environments. Importing this package registers every Gymnasium id.

The PettingZoo envs are modules here, imported one way, as PettingZoo's own families are::

    from envs import courier_dispatch_v0, fulfillment_center_v0, network_v0, slotting_v0
    par_env = slotting_v0.parallel_env(n_operators=3)   # env(...) for AEC

``import envs`` alone stays light: each loads on first use (``envs.slotting_v0`` works too).
"""

import importlib

import gymnasium

from envs.core.config import ConfigError

gymnasium.register(
    id="fulfillgym/LostSales-v0",
    entry_point="envs.replenishment.lost_sales.env:LostSalesEnv",
    max_episode_steps=1000,
)

gymnasium.register(
    id="fulfillgym/FulfillmentCenter-v0",
    entry_point="envs.replenishment.fulfillment_center.env:FulfillmentCenterEnv",
    # the env truncates itself after `episode_length` periods (a replayed history must
    # hold the whole window), so no TimeLimit wrapper
)

gymnasium.register(
    id="fulfillgym/SameDayDelivery-v0",
    entry_point="envs.dispatch.env:SameDayDeliveryEnv",
    # one episode is one day: the env terminates after its last decision epoch
)

gymnasium.register(
    id="fulfillgym/Slotting-v0",
    entry_point="envs.slotting.env:SlottingEnv",
    # the env terminates itself after `episode_loads` putaways, so no TimeLimit wrapper
)

gymnasium.register(
    id="fulfillgym/Network-v0",
    entry_point="envs.network.env:NetworkEnv",
    # the env truncates itself after `episode_length` periods, so no TimeLimit wrapper
)

PETTINGZOO_ENVS = ("courier_dispatch_v0", "fulfillment_center_v0", "network_v0", "slotting_v0")


def __getattr__(name: str):
    if name in PETTINGZOO_ENVS:  # lazily, so that registering the Gymnasium ids imports no PettingZoo
        return importlib.import_module(f"envs.{name}")
    raise AttributeError(f"module 'envs' has no attribute {name!r}")


__all__ = ["ConfigError", *PETTINGZOO_ENVS]
