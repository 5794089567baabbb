"""Inventory replenishment environments."""

from envs.replenishment.catalogue import Catalogue, load_demand_csv, synthetic_catalogue
from envs.replenishment.config import LostSalesConfig
from envs.replenishment.demand import DemandConfig
from envs.replenishment.demand_models import DemandModelConfig, DemandProcess
from envs.replenishment.fulfillment import FulfillmentSimulator
from envs.replenishment.fulfillment_center import FulfillmentCenterEnv
from envs.replenishment.fulfillment_config import FulfillmentConfig, Problem
from envs.replenishment.lost_sales import LostSalesEnv

__all__ = [
    "Catalogue", "DemandConfig", "DemandModelConfig", "DemandProcess", "FulfillmentCenterEnv",
    "FulfillmentConfig", "FulfillmentSimulator", "LostSalesConfig", "LostSalesEnv", "Problem",
    "load_demand_csv", "synthetic_catalogue",
]
