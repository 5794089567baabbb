"""The exact optimum as an :class:`~agents.lost_sales.policies.OrderPolicy`."""

from __future__ import annotations

from typing import Any

import numpy as np

from agents.lost_sales.optimal.solution import OptimalSolution
from agents.lost_sales.optimal.solver import solve
from agents.lost_sales.policies import OrderPolicy
from envs.replenishment.lost_sales.config import LostSalesConfig


class OptimalPolicy(OrderPolicy):
    """The exact optimum as an :class:`~agents.lost_sales.policies.OrderPolicy` (solved, or read from the
    cache, on construction)."""

    name = "optimal"

    def __init__(
        self,
        config: LostSalesConfig,
        *,
        solution: OptimalSolution | None = None,
        **solve_kwargs: Any,
    ):
        super().__init__(config)
        self.solution = solution if solution is not None else solve(config, **solve_kwargs)

    def orders(self, obs: np.ndarray) -> np.ndarray:
        return self.solution.order(obs)

    def params(self) -> dict[str, Any]:
        return {"average_cost": self.solution.average_cost, "states": self.solution.n_states}


def make_optimal(config: LostSalesConfig, **solve_kwargs: Any) -> OptimalPolicy:
    """Build an :class:`OptimalPolicy` for ``config`` (keyword arguments go to :func:`solve`)."""
    return OptimalPolicy(config, **solve_kwargs)
