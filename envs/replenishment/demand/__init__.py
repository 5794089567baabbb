"""Demand: single-SKU distributions, multi-SKU demand processes, catalogues and CSV histories."""

from envs.replenishment.demand.distributions import DemandConfig
from envs.replenishment.demand.processes import DemandModelConfig, DemandProcess

__all__ = ["DemandConfig", "DemandModelConfig", "DemandProcess"]
