"""Build agents by name, the way configs and the command line name them."""

from __future__ import annotations

import math

from envs.core.config import ConfigError
from envs.replenishment.lost_sales.config import LostSalesConfig

# Above this many post-decision states the exact DP is skipped (memory and time on a
# 2-core, 24 GiB machine). Measured: L = 4, p = 39, Poisson(5) has 0.66 million (1.8 s,
# 320 MB); L = 5, p = 4 has 4.5 million (about 35 s, 1.8 GB).
MAX_DP_STATES = 6_000_000


def agent_names() -> tuple[str, ...]:
    from agents.lost_sales.heuristics import HEURISTICS

    return ("optimal", *HEURISTICS)


def dp_size(config: LostSalesConfig) -> int:
    """Number of post-decision states of the exact lost-sales DP."""
    bound, lead = config.newsvendor_level(), max(config.lead_time, 1)
    return math.comb(bound + lead + 1, lead + 1)


def make_agent(name: str, config: LostSalesConfig, *, seed: int = 0):
    """Return a ready policy: solved (optimal), tuned (heuristics) or as is (random)."""
    from agents.lost_sales.heuristics import HEURISTICS, RandomPolicy, tune

    if name == "optimal":
        from agents.lost_sales.optimal import make_optimal

        return make_optimal(config)
    if name == "random":
        return RandomPolicy(config, seed=seed)
    if name in HEURISTICS:
        cls, tunable = HEURISTICS[name]
        return tune(name, config) if tunable else cls(config)
    raise ConfigError(f"agents: unknown agent {name!r}; accepted agents are {', '.join(agent_names())}")


def optimal_unavailable(config: LostSalesConfig) -> str | None:
    """Why the exact optimum is not computed for ``config``, or None if it is."""
    if not config.backorders and dp_size(config) > MAX_DP_STATES:
        return f"state space too large for exact DP ({dp_size(config):,} post-decision states)"
    return None
