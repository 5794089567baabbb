"""The checks every VRPLIB / Solomon reader applies to a parsed file (``vrplib``'s dict):
:func:`read_vrplib` (the parse, every error one line) and :func:`check_vrplib`. Used by the
dispatch env's coordinates (``envs.dispatch.instance_files``), the EURO reader
(``envs.dispatch.euro_neurips``) and the static routing reader
(``envs.dispatch.routing.instances``).

Every error is a one-line ``ConfigError`` naming the field, the file, the section and the first
bad value with what is accepted, e.g. ``instance: a.vrp: DEMAND_SECTION: expected integers
>= 0, got -1 at node 2``. The limits:

* ``DIMENSION`` an integer >= 2, equal to the number of rows of every node section;
* ``CAPACITY`` (when given, or required) an integer >= 1 and >= every single demand (a larger
  demand makes the instance infeasible, which is said so);
* ``DEMAND_SECTION`` present when the file is a routing problem (a ``CAPACITY`` or a ``TYPE``
  naming a VRP), integers >= 0, the depot's 0;
* ``DEPOT_SECTION`` node numbers in ``[1, DIMENSION]``;
* coordinates finite with ``|x|, |y| <= MAX_COORDINATE``; explicit edge weights finite and
  >= 0; time windows finite with ``0 <= early <= late``; service and release times finite, >= 0.
"""

from __future__ import annotations

import numpy as np

from envs.core.config import ConfigError

MAX_COORDINATE = 1e7
"""Largest absolute coordinate. Squared distances of integer coordinates up to 1e7 stay below
2**53 (8e14 at most), so Euclidean distances keep the unit precision the benchmark roundings
(nint, one decimal) depend on; 1e7 still covers metres across a continent or degrees x 1e5."""

# vrplib key -> (section label, values per row: None one value, "dim" a matrix row)
SECTIONS = {"edge_weight": ("EDGE_WEIGHT", "dim"), "node_coord": ("NODE_COORD", 2), "demand": ("DEMAND", None),
            "service_time": ("SERVICE_TIME", None), "time_window": ("TIME_WINDOW", 2),
            "release_time": ("RELEASE_TIME", None)}
WANT = {"edge_weight": "finite weights >= 0", "node_coord": f"finite coordinates with |value| <= {MAX_COORDINATE:g}",
        "demand": "integers >= 0", "service_time": "finite service times >= 0",
        "time_window": "finite windows with 0 <= early <= late", "release_time": "finite release times >= 0"}


def check_vrplib(raw: dict, where: str, *, required: tuple[str, ...] = (), integers: bool = False) -> dict:
    """Check a parsed VRPLIB / Solomon instance and return its numeric sections as arrays.

    ``where`` prefixes every message (``"instance: path"``); ``required``: vrplib keys that must
    be present (``"capacity"``, ``"demand"``, ...); ``integers``: every section must hold
    integers (demands always must). Returns ``{"dimension", "capacity", <section key>: array}``
    with a scalar ``service_time`` broadcast to one value per node."""

    def fail(problem: str) -> ConfigError:
        return ConfigError(f"{where}: {problem}")

    dim = raw.get("dimension")
    if dim is None and "dimension" not in required and "node_coord" in raw:  # Solomon files state none
        dim = len(raw["node_coord"])
    if dim is None:
        raise fail("missing DIMENSION")
    if not isinstance(dim, int) or isinstance(dim, bool) or dim < 2:
        raise fail(f"DIMENSION: expected an integer >= 2, got {dim!r}")
    capacity = raw.get("capacity")
    if capacity is None and "capacity" in required:
        raise fail("missing CAPACITY")
    if capacity is not None and (not isinstance(capacity, int) or isinstance(capacity, bool) or capacity < 1):
        raise fail(f"CAPACITY: expected an integer >= 1, got {capacity!r}")
    routing = capacity is not None or "VRP" in str(raw.get("type", "")).upper()
    for key in (*required, *(("demand",) if routing else ())):
        if key not in raw and key not in ("dimension", "capacity"):
            raise fail(f"missing {SECTIONS.get(key, (key.upper(),))[0]}_SECTION")
    out = {"dimension": dim, "capacity": capacity}
    for key, (name, cols) in SECTIONS.items():
        if key in raw:
            out[key] = _section(raw[key], name, dim, dim if cols == "dim" else cols, fail,
                                integers or key == "demand", scalar=key == "service_time")
            _check_values(key, out[key], fail)
    depots = np.asarray(raw.get("depot", [0])).reshape(-1)
    if depots.size and (depots.dtype.kind not in "iu" or depots.min() < 0 or depots.max() >= dim):
        shown = (depots + 1 if depots.dtype.kind in "iu" else depots).tolist()[:5]
        raise fail(f"DEPOT_SECTION: expected node numbers in [1, {dim}], got {shown}")
    demand = out.get("demand")
    if demand is not None:
        depot = int(depots[0]) if depots.size else 0
        if demand[depot] != 0:
            raise fail(f"DEMAND_SECTION: expected demand 0 at the depot, got {demand[depot]} at node {depot + 1}")
        if capacity is not None and (big := np.flatnonzero(demand > capacity)).size:
            raise fail(f"DEMAND_SECTION: expected demands <= CAPACITY {capacity}, got {demand[big[0]]} at node "
                       f"{big[0] + 1}: no vehicle can serve it, the instance is infeasible")
    return out


def _section(value, name: str, rows: int, cols: int | None, fail, integers: bool, scalar: bool) -> np.ndarray:
    """``value`` as a numeric array of ``rows`` rows of ``cols`` values (None: one value)."""
    label = f"{name}_SECTION"
    if isinstance(value, list):  # vrplib keeps ragged sections as lists
        raise fail(f"{label}: rows have different numbers of values")
    data = np.asarray(value)
    if scalar and data.ndim == 0:  # a SERVICE_TIME specification: the same for every node
        data = np.full(rows, data.item())
    if data.ndim == 0 or len(data) != rows:
        raise fail(f"{label} has {0 if data.ndim == 0 else len(data)} rows, DIMENSION is {rows}")
    shape = (rows,) if cols is None else (rows, cols)
    if data.shape != shape:
        per_row = 1 if data.ndim == 1 else data.shape[1]
        extra = "" if name == "EDGE_WEIGHT" else " after the node number"
        raise fail(f"{label}: expected {1 if cols is None else cols} value(s) per row{extra}, got {per_row}")
    flat = data.ravel()
    if data.dtype.kind not in "iuf":  # some token is not a number: numpy made the whole section text
        k = next(i for i, v in enumerate(flat.tolist()) if not _is_number_text(v, integers))
        raise fail(f"{label}: expected {'integers' if integers else 'numbers'}, got {flat[k].item()!r} "
                   f"in row {k // (cols or 1) + 1}")
    if integers and data.dtype.kind == "f":
        odd = np.flatnonzero(~np.isfinite(flat) | (flat != np.round(flat)))
        if odd.size:
            k = int(odd[0])
            raise fail(f"{label}: expected integers, got decimal numbers such as {flat[k].item()!r} "
                       f"in row {k // (cols or 1) + 1}")
        data = data.astype(np.int64)
    return data


def _is_number_text(value, integers: bool) -> bool:
    try:
        (int if integers else float)(value)
    except (TypeError, ValueError):
        return False
    return not (integers and isinstance(value, float))


def _check_values(key: str, data: np.ndarray, fail) -> None:
    """The first value of section ``key`` outside its accepted range, in one line."""
    with np.errstate(invalid="ignore"):
        bad = ~np.isfinite(data)
        if key == "node_coord":
            bad |= np.abs(data) > MAX_COORDINATE
        elif key == "time_window":
            bad |= (data[:, :1] < 0) | (data[:, :1] > data[:, 1:])
        else:
            bad |= data < 0
    label = f"{SECTIONS[key][0]}_SECTION: expected {WANT[key]}"
    if key == "edge_weight" and bad.any():
        i, j = np.argwhere(bad)[0]
        raise fail(f"{label}, got {data[i, j].item()!r} from node {i + 1} to {j + 1}")
    rows = np.flatnonzero(bad if bad.ndim == 1 else bad.any(axis=-1))
    if rows.size:
        raise fail(f"{label}, got {data[rows[0]].tolist()} at node {rows[0] + 1}")


def read_vrplib(path: str, where: str, **kwargs) -> dict:
    """``vrplib.read_instance`` (no edge weights computed) with every error one ``ConfigError``."""
    import vrplib

    try:
        return vrplib.read_instance(path, compute_edge_weights=False, **kwargs)
    except UnicodeDecodeError:
        raise ConfigError(f"{where}: not a text file") from None
    except Exception as err:  # vrplib raises ValueError, RuntimeError, TypeError, ... on bad text
        text = " ".join(str(err).split()) or type(err).__name__
        if "inhomogeneous" in text:  # numpy refusing a ragged EDGE_WEIGHT_SECTION
            text = "EDGE_WEIGHT_SECTION rows have different lengths"
        raise ConfigError(f"{where}: not a VRPLIB instance ({text if len(text) <= 120 else text[:117] + '...'})") \
            from None
