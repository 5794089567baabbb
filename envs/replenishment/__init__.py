"""Inventory replenishment: the single-SKU lost-sales system and the multi-SKU fulfilment centre.

``dynamics.period`` is the one implementation of a period's inventory dynamics; both
operations use it. ``demand/`` holds the demand distributions, the multi-SKU demand
processes, the product catalogue and CSV demand histories.
"""
