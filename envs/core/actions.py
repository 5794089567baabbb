"""The one action check of every env (Gymnasium ``step`` and PettingZoo parallel ``step``).

:func:`check_action` returns an action as an array (a Python ``int`` for ``Discrete``) if it
belongs to its space, else raises a one-line ``ValueError`` naming the action, the expected
space and what was received, e.g.::

    action: expected integers in [0, 8], shape (8,), got shape (8, 1)
    actions['sku_3']: expected floats in [-1, 1], shape (1,), got shape (2, 2)

The rules: the shape must be the space's (a space holding one value also takes it as a scalar
or as shape ``(1,)``); ``Discrete`` / ``MultiDiscrete`` take integers only (no bools, floats,
strings), ``Box`` integers or floats, ``MultiBinary`` bools, integers or floats; every value
within the bounds (NaN never is). :func:`check_actions` checks one action per agent against a
shared space with one vectorised test (when they all have the same type and dtype, so that
NumPy promotes none), naming the first bad agent only when it fails.
"""

from __future__ import annotations

from collections.abc import Sequence
from operator import attrgetter
from typing import Any

import numpy as np
from gymnasium import spaces

_KINDS = ((spaces.Discrete, "iu"), (spaces.MultiDiscrete, "iu"), (spaces.Box, "fiu"), (spaces.MultiBinary, "biuf"))
_KIND_OF = dict(_KINDS)
_DTYPE = attrgetter("dtype")


def _kinds(space: spaces.Space) -> str:
    """The dtype kinds ``space`` takes (subclasses, e.g. a masked Discrete, included)."""
    kinds = _KIND_OF.get(type(space))
    return kinds if kinds is not None else next(k for cls, k in _KINDS if isinstance(space, cls))


def describe(space: spaces.Space) -> str:
    """What ``space`` accepts, in a few words (one line, however long the space)."""
    if isinstance(space, spaces.Discrete):
        start = int(space.start)
        return f"an integer in [{start}, {start + int(space.n) - 1}] (Discrete({int(space.n)}))"
    if isinstance(space, spaces.MultiDiscrete):
        low, high = int(space.nvec.min()), int(space.nvec.max())
        lowest = "0" if not np.any(space.start) else "start"
        if low == high and lowest == "0":
            return f"integers in [0, {low - 1}], shape {space.shape}"
        return (f"integers in [{lowest}, {lowest} + nvec - 1] (MultiDiscrete with {low}..{high} choices each), "
                f"shape {space.shape}")
    if isinstance(space, spaces.Box):
        lo, hi = np.unique(space.low), np.unique(space.high)
        bounds = f"in [{lo[0]:g}, {hi[0]:g}]" if len(lo) == 1 and len(hi) == 1 else "within the Box bounds"
        return f"floats {bounds}, shape {space.shape}"
    if isinstance(space, spaces.MultiBinary):
        return f"values in {{0, 1}} (MultiBinary({space.n})), shape {space.shape}"
    raise TypeError(f"check_action: unsupported space {type(space).__name__}")


def _bad_values(space: spaces.Space, a: np.ndarray) -> str | None:
    """None if every value of ``a`` (shape ``(..., *space.shape)``, kind already checked) is in
    ``space``, else what was received."""
    if a.size == 1:  # one value (the hot path of one-value spaces): Python comparisons
        v = a.item()
        if isinstance(space, spaces.Discrete):
            ok = space.start <= v < space.start + space.n
        elif isinstance(space, spaces.MultiDiscrete):
            ok = space.start.item(0) <= v < space.start.item(0) + space.nvec.item(0)
        elif isinstance(space, spaces.Box):
            ok = space.low.item(0) <= v <= space.high.item(0)  # NaN compares False: refused
        else:
            ok = v in (0, 1)
    # whole arrays: comparisons, not arithmetic (NaN compares False, without a warning)
    elif isinstance(space, spaces.Discrete):
        ok = (a >= space.start).all() and (a < space.start + space.n).all()
    elif isinstance(space, spaces.MultiDiscrete):
        ok = (a >= space.start).all() and (a < space.start + space.nvec).all()
    elif isinstance(space, spaces.Box):
        ok = (a >= space.low).all() and (a <= space.high).all()
    else:
        ok = ((a == 0) | (a == 1)).all()
    if ok:
        return None
    flat = a.reshape(-1)
    if flat.size == 1:
        return repr(flat[0].item())
    if flat.dtype.kind == "f" and np.isnan(flat).any():
        return "NaN"
    return f"values in [{flat.min()}, {flat.max()}]"


def check_action(space: spaces.Space, action: Any, name: str = "action"):
    """``action`` if it belongs to ``space`` (module docstring), as an int (``Discrete``) or an
    array of the space's shape; else a one-line ``ValueError`` starting with ``name``."""
    if isinstance(space, spaces.Discrete) and (type(action) is int or isinstance(action, np.integer)) \
            and space.start <= action < space.start + space.n:  # type(True) is bool, not int
        return int(action)  # the common case, without building an array
    try:
        a = action if isinstance(action, np.ndarray) else np.asarray(action)
    except (ValueError, TypeError):  # ragged nested lists
        raise ValueError(f"{name}: expected {describe(space)}, got {_short(action)} (not an array)") from None
    want = space.shape if not isinstance(space, spaces.Discrete) else ()
    if a.shape != want:
        if a.size == 1 and a.ndim <= 1 and (want == (1,) or want == ()):
            a = a.reshape(want)  # one value: a scalar or shape (1,)
        else:
            raise ValueError(f"{name}: expected {describe(space)}, got shape {a.shape}")
    if a.dtype.kind not in _kinds(space):
        raise ValueError(f"{name}: expected {describe(space)}, got dtype {a.dtype}")
    problem = _bad_values(space, a)
    if problem is not None:
        raise ValueError(f"{name}: expected {describe(space)}, got {problem}")
    return int(a) if isinstance(space, spaces.Discrete) else a


def check_actions(space: spaces.Space, values: Sequence[Any], names: Sequence[str]) -> np.ndarray:
    """One action per agent (``values[i]`` of agent ``names[i]``) checked against the shared
    ``space``, stacked (``(len(values), *space.shape)``); the error names the first bad agent."""
    want = (len(values), *(() if isinstance(space, spaces.Discrete) else space.shape))
    # one type (and, for arrays, one dtype) for all, else NumPy would promote (True and 1 -> int);
    # map and set keep this in C (a NumPy scalar type is its dtype)
    types = set(map(type, values))
    kind = types.pop() if len(types) == 1 else None
    a = None
    if kind in (int, float) or (kind is not None and issubclass(kind, np.generic)) \
            or (kind is np.ndarray and len(set(map(_DTYPE, values))) == 1):
        try:
            a = np.asarray(values)
        except ValueError:  # ragged: some agent's action has the wrong shape
            a = None
    if a is not None and a.shape == want and a.dtype.kind in _kinds(space) and _bad_values(space, a) is None:
        return a
    return np.array([check_action(space, v, f"actions[{n!r}]") for v, n in zip(values, names, strict=True)])


def _short(value: Any) -> str:
    text = repr(value).replace("\n", " ")
    return text if len(text) <= 40 else text[:37] + "..."
