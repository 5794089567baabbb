"""FulfillGym environments. Importing this package registers every Gymnasium id."""

import gymnasium

from envs.common.config import ConfigError

gymnasium.register(
    id="fulfillgym/LostSales-v0",
    entry_point="envs.replenishment.lost_sales:LostSalesEnv",
    max_episode_steps=1000,
)

__all__ = ["ConfigError"]
