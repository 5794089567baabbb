"""Inventory replenishment environments."""

from envs.replenishment.config import LostSalesConfig
from envs.replenishment.demand import DemandConfig
from envs.replenishment.lost_sales import LostSalesEnv

__all__ = ["DemandConfig", "LostSalesConfig", "LostSalesEnv"]
