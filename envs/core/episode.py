"""The episode-protocol errors shared by every env (one line each).

* stepping before the first ``reset()``, or after the episode ended, raises ``RuntimeError``;
* ``reset(options=...)`` accepts ``None`` or an empty dict: no env has reset options.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def step_before_reset() -> RuntimeError:
    return RuntimeError("step() called before reset(); call reset() first")


def step_after_end(periods: int) -> RuntimeError:
    return RuntimeError(f"step() called after the episode ended (truncated after {periods} periods); "
                        f"call reset() first")


def unknown_reset_option(options: Any, env_name: str) -> str | None:
    """None for ``options`` None or ``{}``; otherwise the one-line complaint naming the first key."""
    if options is None:
        return None
    if not isinstance(options, Mapping):
        return f"reset(options=...): expected None or a dict, got {type(options).__name__}"
    for key in options:
        return f"reset(options=...): unknown option {key!r}; {env_name} accepts no reset options (None or {{}})"
    return None


def check_reset_options(options: Any, env_name: str) -> None:
    """Raise ``ValueError`` unless ``options`` is None or an empty dict."""
    problem = unknown_reset_option(options, env_name)
    if problem is not None:
        raise ValueError(problem)
