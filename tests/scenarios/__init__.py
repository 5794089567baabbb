"""Stress scenarios (envs/core/scenario.py) in the replenishment tasks and the robustness table."""
