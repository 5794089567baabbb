"""Exact average-cost optimal policies for ``fulfillgym/LostSales-v0``, and exact evaluation
of any stationary policy.

Modules:

- :mod:`~agents.lost_sales.optimal.chain`: the timing, states, transitions and demand pmf;
- :mod:`~agents.lost_sales.optimal.solver`: :func:`solve`, relative value iteration for lost
  sales on the space bounded by Morton's bound (:mod:`~agents.lost_sales.optimal.rvi`), and
  the backorder DP (:mod:`~agents.lost_sales.optimal.backorders`);
- :mod:`~agents.lost_sales.optimal.solution`: :class:`OptimalSolution`;
- :mod:`~agents.lost_sales.optimal.cache`: the on-disk cache of solutions;
- :mod:`~agents.lost_sales.optimal.evaluation`: :func:`exact_average_cost` and
  :func:`evaluate_policy` for any stationary lost-sales policy;
- :mod:`~agents.lost_sales.optimal.policy`: :class:`OptimalPolicy` and :func:`make_optimal`.
"""

from agents.lost_sales.optimal.cache import CACHE_ENV, DEFAULT_CACHE, SOLVER_VERSION, cache_dir
from agents.lost_sales.optimal.chain import DENSE_LOOKUP_LIMIT, newsvendor_cost
from agents.lost_sales.optimal.evaluation import (
    MAX_EVAL_STATES,
    TRUNCATION_TOL,
    UNSTABLE_MASS,
    OrderFn,
    PolicyEvaluation,
    evaluate_policy,
    exact_average_cost,
)
from agents.lost_sales.optimal.policy import OptimalPolicy, make_optimal
from agents.lost_sales.optimal.solution import OptimalSolution
from agents.lost_sales.optimal.solver import MAX_BOUND_ROUNDS, solve

__all__ = [
    "CACHE_ENV",
    "DEFAULT_CACHE",
    "DENSE_LOOKUP_LIMIT",
    "MAX_BOUND_ROUNDS",
    "MAX_EVAL_STATES",
    "SOLVER_VERSION",
    "TRUNCATION_TOL",
    "UNSTABLE_MASS",
    "OptimalPolicy",
    "OptimalSolution",
    "OrderFn",
    "PolicyEvaluation",
    "cache_dir",
    "evaluate_policy",
    "exact_average_cost",
    "make_optimal",
    "newsvendor_cost",
    "solve",
]
