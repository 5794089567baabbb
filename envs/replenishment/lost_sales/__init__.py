"""``fulfillgym/LostSales-v0``: single-SKU periodic-review inventory with a lead time."""

from envs.replenishment.lost_sales.config import LostSalesConfig
from envs.replenishment.lost_sales.env import LostSalesEnv
from envs.replenishment.lost_sales.simulator import BatchSimulator

__all__ = ["BatchSimulator", "LostSalesConfig", "LostSalesEnv"]
