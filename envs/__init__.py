"""FulfillGym environments. Importing this package registers every Gymnasium id."""

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

__all__ = ["ConfigError"]
