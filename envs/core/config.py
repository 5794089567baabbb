"""Validation helpers for the frozen config dataclasses.

Every environment and policy config is a frozen dataclass validated in
``__post_init__``. A bad value raises :class:`ConfigError` whose message is one
line naming the field and the accepted values, e.g.::

    env.lead_time: expected an integer >= 0, got -1

Entry points catch :class:`ConfigError`, print the message and exit with status 2.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable, Mapping
from contextlib import contextmanager
from dataclasses import fields
from typing import Any

MAX_COST = 1e9
"""Largest cost coefficient of every env (holding, penalty, fixed and unit costs, prices,
overflow cost): with quantities bounded by the demand limits, a period's cost stays many
orders of magnitude below float overflow, so rewards are always finite."""
MAX_DAILY_DEMAND = 10**9
"""Largest demand of one SKU in one period (a day) of the fulfilment centre: a CSV history
value, a catalogue's mean demand, the expected demand of the stochastic model. With orders
of at most 1,000 periods of demand (``MAX_MULTIPLE``) and episodes of at most 100,000
periods, stock + pipeline stays below 1e17, far from the int64 limit (9.2e18)."""


class ConfigError(ValueError):
    """A configuration value is invalid. The message is a single line."""


def _describe(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def check_int(field: str, value: Any, low: int | None = None, high: int | None = None) -> int:
    """Return ``value`` as an int, or raise :class:`ConfigError` if it is not an integer in range."""
    ok = isinstance(value, numbers.Integral) and not isinstance(value, bool)
    if not ok and isinstance(value, float) and value.is_integer():
        ok, value = True, int(value)
    if ok and (low is None or value >= low) and (high is None or value <= high):
        return int(value)
    raise ConfigError(f"{field}: expected an integer{_range(low, high)}, got {_describe(value)}")


def check_float(
    field: str, value: Any, low: float | None = None, high: float | None = None, *, strict_low: bool = False
) -> float:
    """Return ``value`` as a finite float, or raise :class:`ConfigError`."""
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)
    if ok:
        value = float(value)
        if low is not None and (value < low or (strict_low and value == low)):
            ok = False
        if high is not None and value > high:
            ok = False
    if ok:
        return value
    if strict_low and low is not None:
        bound = f" in ({low}, {high}]" if high is not None else f" > {low}"
    else:
        bound = _range(low, high)
    raise ConfigError(f"{field}: expected a finite number{bound}, got {_describe(value)}")


def check_bool(field: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    raise ConfigError(f"{field}: expected true or false, got {_describe(value)}")


def check_choice(field: str, value: Any, choices: Iterable[str]) -> str:
    choices = tuple(choices)
    if isinstance(value, str) and value in choices:
        return value
    raise ConfigError(f"{field}: expected one of {', '.join(choices)}, got {_describe(value)}")


def check_keys(section: str, given: Mapping[str, Any], allowed: Iterable[str]) -> None:
    """Reject unknown keys, naming the first one and the accepted keys."""
    allowed = tuple(allowed)
    for key in given:
        if key not in allowed:
            raise ConfigError(
                f"{section}.{key}: unknown option; accepted options are {', '.join(sorted(allowed))}"
            )


def check_work(what: str, value: float, limit: float, given: Mapping[str, Any]) -> None:
    """Refuse a config whose amount of work or memory ``what`` (a product of sizes, a rate times
    a horizon), worth ``value``, exceeds ``limit``: one line naming the fields it comes from
    (``given``: field -> value; the first one leads the message), their values and the limit.
    The limits and the measurements behind them: ``docs/reliability.md``."""
    if value <= limit:
        return
    values = ", ".join(f"{name}={_describe(v)}" for name, v in given.items())
    raise ConfigError(f"{next(iter(given))}: {what} is {value:.4g}, above the limit of {limit:.4g} ({values}); "
                      f"reduce it (docs/reliability.md)")


def _range(low: float | None, high: float | None) -> str:
    if low is not None and high is not None:
        return f" in [{low}, {high}]"
    if low is not None:
        return f" >= {low}"
    if high is not None:
        return f" <= {high}"
    return ""


@contextmanager
def env_fields():
    """Inside it, a :class:`ConfigError` naming a bare field (``capacity: ...``) is re-raised
    naming it as the command line does (``env.capacity: ...``), for configs validated with
    the bare field names of their dataclass."""
    try:
        yield
    except ConfigError as err:
        message = str(err)
        raise ConfigError(message if message.startswith("env.") else f"env.{message}") from None


def typed(cls, section: str, value: Mapping[str, Any] | None):
    """A frozen dataclass ``cls`` from a config mapping (None: its defaults; an instance: as is),
    unknown keys refused in one line naming ``section`` and the accepted fields."""
    if value is None:
        return cls()
    if isinstance(value, cls):
        return value
    if not isinstance(value, Mapping):
        raise ConfigError(f"{section}: expected a mapping of {', '.join(f.name for f in fields(cls))}, got {value!r}")
    check_keys(section, value, [f.name for f in fields(cls) if f.init])
    return cls(**dict(value))
