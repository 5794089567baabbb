"""``fulfillgym/FulfillmentCenter-v0`` and PettingZoo ``fulfillment_center_v0``: N SKUs under one
shared storage capacity, one simulator (``simulator.py``) under a centralised Gymnasium face
(``env.py``), a per-SKU PettingZoo face (``parallel_env.py``) and a batched per-SKU face for
shared-policy training (``shared.py``)."""

from envs.replenishment.fulfillment_center.config import FulfillmentConfig, Problem
from envs.replenishment.fulfillment_center.env import FulfillmentCenterEnv
from envs.replenishment.fulfillment_center.simulator import FulfillmentSimulator

__all__ = ["FulfillmentCenterEnv", "FulfillmentConfig", "FulfillmentSimulator", "Problem"]
