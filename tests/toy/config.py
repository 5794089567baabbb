"""The newsvendor's config: a frozen dataclass, validated in ``__post_init__`` with one-line
errors naming the field (as every env config of the project is), the schema and the defaults
of ``configs/env/newsvendor.yaml``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any

from envs.core.config import check_float, check_int, check_keys


@dataclass(frozen=True)
class NewsvendorConfig:
    """``mean``: Poisson demand per period; ``holding_cost`` (h) per unsold unit; ``penalty``
    (p) per unit short; ``q_max``: the largest order; ``episode_length``: periods per episode."""

    mean: float = 5.0
    holding_cost: float = 1.0
    penalty: float = 4.0
    q_max: int = 20
    episode_length: int = 50

    def __post_init__(self) -> None:
        object.__setattr__(self, "mean", check_float("env.mean", self.mean, 0.0, 1000.0, strict_low=True))
        object.__setattr__(self, "holding_cost", check_float("env.holding_cost", self.holding_cost, 0.0))
        object.__setattr__(self, "penalty", check_float("env.penalty", self.penalty, 0.0))
        object.__setattr__(self, "q_max", check_int("env.q_max", self.q_max, 1, 10_000))
        object.__setattr__(self, "episode_length", check_int("env.episode_length", self.episode_length, 1, 1_000_000))

    @classmethod
    def from_kwargs(cls, kwargs: Mapping[str, Any]) -> NewsvendorConfig:
        """From the env's keyword arguments; an unknown key is a one-line error."""
        check_keys("env", kwargs, [f.name for f in fields(cls)])
        return cls(**kwargs)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
