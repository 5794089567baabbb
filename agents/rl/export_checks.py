"""Checks of an exported policy before and while it acts (``agents.rl.exported``): what would
otherwise raise a traceback, run for ever or silently become a valid order is refused with
one line (a :class:`~envs.core.config.ConfigError` naming the field or output and what is
accepted).

* The policy card (``<file>.json``, or the copy embedded in the file): :func:`check_card`
  checks the type and value of every field the loader uses: ``task``, ``agent`` and the
  names are strings (``input_names`` one name, ``output_names`` unique and ``action``
  first), ``env_config`` and ``essentials`` mappings, ``shared`` a boolean, ``sha256`` 64 hex
  digits, ``training.timesteps`` an integer, ``model_observation_space`` a 1-D Box and
  ``model_action_space`` a Discrete, MultiDiscrete, MultiBinary or 1-D Box with valid bounds.
* An ONNX file, before onnxruntime runs it (:func:`check_onnx`, :func:`check_signature`): at
  most :data:`MAX_FILE_BYTES` bytes and :data:`MAX_NODES` nodes, no external data, no local
  functions, only the standard domain and only the stateless tensor operators of
  :data:`POLICY_OPS` (control flow, ``Loop``, ``Scan``, ``If``, and any operator with a
  subgraph is refused: an exported SB3 policy never has them); one float32 input
  ``(batch, d)`` with a dynamic batch axis and ``d`` the card's observation width; the card's
  outputs in its order, ``action`` int64 for integer action spaces and float32 for a Box, of
  the space's shape; every value's shape statically inferred, only the batch axis dynamic,
  with at most :data:`MAX_ROW_ELEMENTS` elements per row (:func:`check_memory`: no graph
  broadcasts small constants into gigabytes).
* The ``action`` the policy acts with (:func:`check_action`, on every call): of shape
  ``(rows, *space.shape)``, finite, integral for integer spaces and inside the space's bounds.
  Nothing is clipped: a graph that answers NaN, -1, 0.5 or a too large action is refused.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np

from envs.core.config import ConfigError, check_bool, check_int

MAX_FILE_BYTES = 64 * 2**20
"""Largest ONNX file loaded: the largest export measured (a dispatch policy on 1,160 inputs,
0.37 MB) x ~180; room for a [1024, 1024] MLP on 5,000 inputs (24 MB)."""
MAX_NODES = 2000
"""Most graph nodes: exported policies have 15..65 (largest measured: 65); ~3 per layer."""
MAX_ROW_ELEMENTS = 2**22
"""Most elements of any value in the graph per batch row (shapes inferred statically): exported
policies have at most 1,160 (measured); a graph that broadcasts two small constants into
billions of elements is refused before it allocates them."""
MAX_WIDTH = 1_000_000  # largest observation width / action dimension in a card
BOX_ULPS = 1e-6  # relative slack of Box bounds (~8 float32 ulps): rounding, not a wrong action
POLICY_OPS = frozenset({
    # what exports of every task and algorithm contain (measured: PPO, MaskablePPO, DCL, SAC on
    # lost sales, newsvendor, fulfilment centre, dispatch, slotting, network; opset 17)
    "Add", "ArgMax", "Cast", "Clip", "Concat", "Constant", "Div", "Flatten", "Gather", "Gemm", "Greater",
    "Identity", "Mul", "Not", "ReduceLogSumExp", "ReduceSum", "Relu", "Round", "Sigmoid", "Slice", "Softmax",
    "Split", "Sub", "Tanh", "Unsqueeze", "Where",
    # what other policy settings give: Box clipping (torch.minimum / maximum), other activation
    # functions of policy_kwargs.activation_fn, plain linear layers, shape and comparison operators
    "Max", "Min", "MatMul", "Reshape", "Squeeze", "Transpose", "Shape", "Neg", "Abs", "Exp", "Log", "Sqrt",
    "Pow", "Reciprocal", "Floor", "Ceil", "Sign", "Equal", "Less", "LessOrEqual", "GreaterOrEqual", "And", "Or",
    "Xor", "ArgMin", "ReduceMax", "ReduceMin", "ReduceMean", "LogSoftmax", "LeakyRelu", "PRelu", "Elu", "Selu",
    "Celu", "Gelu", "Erf", "HardSigmoid", "HardSwish", "Softplus", "Softsign", "Mish", "Dropout",
    "LayerNormalization", "IsNaN", "IsInf", "CastLike", "Mod",
})
STANDARD_DOMAINS = ("", "ai.onnx")
INTEGER_SPACES = ("Discrete", "MultiDiscrete", "MultiBinary")
SPACE_TYPES = (*INTEGER_SPACES, "Box")
HEX64 = re.compile(r"[0-9a-f]{64}")


def space_json(space) -> dict:
    """A Gymnasium space as the JSON of a policy card (what :func:`parse_action_space` reads)."""
    from gymnasium import spaces

    if isinstance(space, spaces.Discrete):
        return {"type": "Discrete", "n": int(space.n), "start": int(space.start), "dtype": "int64"}
    if isinstance(space, spaces.MultiDiscrete):
        return {"type": "MultiDiscrete", "nvec": np.asarray(space.nvec).tolist(), "dtype": "int64"}
    if isinstance(space, spaces.MultiBinary):
        return {"type": "MultiBinary", "shape": [int(d) for d in space.shape], "dtype": "int64"}
    if isinstance(space, spaces.Box):
        low, high = np.asarray(space.low), np.asarray(space.high)
        same = low.size > 0 and np.all(low == low.flat[0]) and np.all(high == high.flat[0])
        return {"type": "Box", "shape": list(space.shape), "dtype": str(space.dtype),
                "low": float(low.flat[0]) if same else low.tolist(),
                "high": float(high.flat[0]) if same else high.tolist()}
    return {"type": type(space).__name__, "repr": repr(space)}


@dataclass(frozen=True)
class ActionSpace:
    """A card's ``model_action_space``: the shape of one row's action and its bounds."""

    kind: str
    shape: tuple[int, ...]
    low: np.ndarray
    high: np.ndarray

    @property
    def integer(self) -> bool:
        return self.kind in INTEGER_SPACES

    def describe(self) -> str:
        lo, hi = (f"{v.flat[0]:g}" if np.all(v == v.flat[0]) else "its bounds" for v in (self.low, self.high))
        what = "integers" if self.integer else "finite numbers"
        return f"{self.kind} {what} in [{lo}, {hi}], shape (batch{''.join(f', {d}' for d in self.shape)})"


@contextmanager
def card_field(where: str):
    """Prefix a ConfigError with ``where`` (the file whose card is checked)."""
    try:
        yield
    except ConfigError as err:
        raise ConfigError(f"{where}: {err}") from None


def _describe(value) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _mapping(field: str, value, what: str) -> Mapping:
    if not isinstance(value, Mapping):
        raise ConfigError(f"{field}: expected a mapping (JSON object) of {what}, got {_describe(value)}")
    return value


def _name(field: str, value) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{field}: expected a non-empty string, got {_describe(value)}")
    return value


def _names(field: str, value, first: str | None = None, count: int | None = None) -> list[str]:
    ok = isinstance(value, list) and value and all(isinstance(v, str) and v for v in value)
    ok = ok and len(set(value)) == len(value) and (first is None or value[0] == first)
    ok = ok and (count is None or len(value) == count)
    if not ok:
        want = f"{count} name" if count == 1 else "unique names" + (f", {first!r} first" if first else "")
        raise ConfigError(f"{field}: expected a list of {want}, got {_describe(value)}")
    return value


def _bound(field: str, value, size: int) -> np.ndarray:
    numbers = np.atleast_1d(np.asarray(value, dtype=object))
    ok = numbers.ndim == 1 and len(numbers) in (1, size) and all(
        isinstance(v, (int, float)) and not isinstance(v, bool) and np.isfinite(v) for v in numbers)
    if not ok:
        raise ConfigError(f"{field}: expected a finite number or a list of {size}, got {_describe(value)}")
    return np.broadcast_to(numbers.astype(np.float64), (size,))


def parse_action_space(field: str, value) -> ActionSpace:
    """The :class:`ActionSpace` of a card's space JSON (:func:`space_json`), or a ConfigError."""
    value = _mapping(field, value, f"an action space: type {', '.join(SPACE_TYPES)}")
    kind = value.get("type")
    if kind not in SPACE_TYPES:
        raise ConfigError(f"{field}.type: expected one of {', '.join(SPACE_TYPES)}, got {_describe(kind)}")
    if kind == "Discrete":
        n = check_int(f"{field}.n", value.get("n"), 1, MAX_WIDTH)
        start = check_int(f"{field}.start", value.get("start", 0))
        return ActionSpace(kind, (), np.array([start], float), np.array([start + n - 1], float))
    if kind == "MultiDiscrete":
        nvec = value.get("nvec")
        if not isinstance(nvec, list) or not 0 < len(nvec) <= MAX_WIDTH:
            raise ConfigError(f"{field}.nvec: expected a non-empty list of integers >= 1, got {_describe(nvec)}")
        high = [check_int(f"{field}.nvec", n, 1) - 1 for n in nvec]
        return ActionSpace(kind, (len(nvec),), np.zeros(len(nvec)), np.asarray(high, float))
    if kind == "MultiBinary" and "shape" not in value:  # cards written before the shape was recorded
        found = re.fullmatch(r"MultiBinary\((\d+)\)", str(value.get("repr", "")))
        value = {**value, "shape": [int(found.group(1))] if found else None}
    shape = value.get("shape")
    if not isinstance(shape, list) or len(shape) != 1:
        raise ConfigError(f"{field}.shape: expected [d], a 1-D action of d >= 1 numbers, got {_describe(shape)}")
    size = check_int(f"{field}.shape", shape[0], 1, MAX_WIDTH)
    if kind == "MultiBinary":
        return ActionSpace(kind, (size,), np.zeros(size), np.ones(size))
    low, high = _bound(f"{field}.low", value.get("low"), size), _bound(f"{field}.high", value.get("high"), size)
    if np.any(low > high):
        raise ConfigError(f"{field}: expected low <= high, got low {value.get('low')} and high {value.get('high')}")
    return ActionSpace(kind, (size,), low, high)


def observation_width(field: str, value) -> int:
    """The width ``d`` of a card's ``model_observation_space`` (a Box of shape ``[d]``)."""
    value = _mapping(field, value, "the model's observation space (a Box of shape [d])")
    shape = value.get("shape")
    if value.get("type") != "Box" or not isinstance(shape, list) or len(shape) != 1:
        raise ConfigError(f"{field}: expected a Box of shape [d], got type {_describe(value.get('type'))} "
                          f"and shape {_describe(shape)}")
    return check_int(f"{field}.shape", shape[0], 1, MAX_WIDTH)


def check_card(card: Mapping, fmt: str) -> tuple[int, ActionSpace]:
    """Check the fields the loader uses (module docstring); ``(observation width, action space)``."""
    from agents.rl.graph import EXPORTABLE

    _name("task", card["task"])
    agent = _name("agent", card["agent"])
    if agent not in EXPORTABLE:
        raise ConfigError(f"agent: expected one of {', '.join(EXPORTABLE)} (an exportable algorithm), got {agent!r}")
    _mapping("env_config", card["env_config"], "the trained env's config")
    _mapping("essentials", card["essentials"], "what the task's model interface needs")
    check_bool("shared", card["shared"])
    _names("input_names", card["input_names"], count=1)
    _names("output_names", card["output_names"], first="action")
    if card.get("sha256") is not None and not (isinstance(card["sha256"], str) and HEX64.fullmatch(card["sha256"])):
        raise ConfigError(f"sha256: expected 64 lowercase hex digits, got {_describe(card['sha256'])}")
    if card.get("format") is not None and card["format"] != fmt:
        raise ConfigError(f"format: expected {fmt!r} (the file's format), got {_describe(card['format'])}")
    if card.get("training") is not None:
        timesteps = _mapping("training", card["training"], "the training facts").get("timesteps")
        if timesteps is not None:
            check_int("training.timesteps", timesteps, -1)
    width = observation_width("model_observation_space", card["model_observation_space"])
    return width, parse_action_space("model_action_space", card["model_action_space"])


# -- ONNX graphs ---------------------------------------------------------------------------
def read_onnx(path) -> bytes:
    """The bytes of an ONNX file of at most :data:`MAX_FILE_BYTES`, or a ConfigError."""
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise ConfigError(f"onnx: {path} has {size:,} bytes; exported policies are at most {MAX_FILE_BYTES:,} "
                          "bytes (agents.rl.export_checks.MAX_FILE_BYTES)")
    return path.read_bytes()


def check_onnx(path, data: bytes):
    """The parsed model of ``data`` if its structure is that of an exported policy, else a ConfigError."""
    import onnx
    from google.protobuf.message import DecodeError

    try:
        model = onnx.load_from_string(data)
    except (DecodeError, ValueError, RuntimeError) as err:
        raise ConfigError(f"onnx: {path} cannot be loaded (not an ONNX model: {type(err).__name__})") from None
    nodes = model.graph.node
    if len(nodes) > MAX_NODES:
        raise ConfigError(f"onnx: {path} has {len(nodes):,} nodes; exported policies have at most {MAX_NODES:,}")
    if model.functions:
        raise ConfigError(f"onnx: {path} defines local functions ({model.functions[0].name}); exported policies "
                          "use standard operators only")
    if any(t.data_location == onnx.TensorProto.EXTERNAL for t in model.graph.initializer):
        raise ConfigError(f"onnx: {path} keeps weights in external files; exported policies hold all their weights")
    for node in nodes:
        nested = any(a.type in (onnx.AttributeProto.GRAPH, onnx.AttributeProto.GRAPHS) for a in node.attribute)
        if node.domain not in STANDARD_DOMAINS or node.op_type not in POLICY_OPS or nested:
            op = f"{node.domain}.{node.op_type}" if node.domain not in STANDARD_DOMAINS else node.op_type
            raise ConfigError(f"onnx: {path} uses operator {op} (node {node.name or '?'}); exported policies use "
                              "only stateless tensor operators, no control flow (Loop, Scan, If) or custom "
                              "domains (agents.rl.export_checks.POLICY_OPS)")
    return model


def _shape(value) -> list | None:
    """A value's dims: ints, the names of symbolic ones, None where unknown (None: no shape)."""
    tensor = value.type.tensor_type
    if not tensor.HasField("shape"):
        return None
    return [d.dim_value if d.HasField("dim_value") else (d.dim_param or None) for d in tensor.shape.dim]


def _dims(value) -> list | None:
    """:func:`_shape` with symbolic dims as None."""
    dims = _shape(value)
    return None if dims is None else [d if isinstance(d, int) else None for d in dims]


def check_signature(path, model, card: Mapping, width: int, space: ActionSpace) -> None:
    """The graph's input and outputs must be those the card declares (module docstring)."""
    import onnx

    weights = {t.name for t in model.graph.initializer}
    inputs = [v for v in model.graph.input if v.name not in weights]
    want = f"one float32 input {card['input_names'][0]!r} of shape (batch, {width})"
    dims = _dims(inputs[0]) if len(inputs) == 1 else None
    if len(inputs) != 1 or inputs[0].name != card["input_names"][0] or dims is None or len(dims) != 2 \
            or inputs[0].type.tensor_type.elem_type != onnx.TensorProto.FLOAT or dims[1] != width or dims[0]:
        got = ", ".join(f"{v.name} {_dims(v)}" for v in inputs)
        raise ConfigError(f"onnx: {path}: graph inputs: expected {want} with a dynamic batch axis, got {got or 'none'}")
    names = [v.name for v in model.graph.output]
    if names != list(card["output_names"]):
        raise ConfigError(f"onnx: {path}: graph outputs: expected {card['output_names']} (the card's output_names), "
                          f"got {names}")
    action = model.graph.output[0]
    dtype = onnx.TensorProto.INT64 if space.integer else onnx.TensorProto.FLOAT
    dims = _dims(action)
    if action.type.tensor_type.elem_type != dtype or dims is None or dims[1:] != list(space.shape):
        raise ConfigError(f"onnx: {path}: graph output 'action': expected "
                          f"{onnx.TensorProto.DataType.Name(dtype).lower()} of shape (batch"
                          f"{''.join(f', {d}' for d in space.shape)}) for {space.kind}, got "
                          f"{onnx.TensorProto.DataType.Name(action.type.tensor_type.elem_type).lower()} {dims}")


def check_memory(path, model) -> None:
    """Every value of the graph has a statically inferred shape of at most :data:`MAX_ROW_ELEMENTS`
    elements per batch row (only the batch axis is dynamic), so running it cannot exhaust memory."""
    from onnx import shape_inference

    try:
        inferred = shape_inference.infer_shapes(model, check_type=True, strict_mode=True, data_prop=True)
    except Exception as err:  # onnx raises InferenceError, ValidationError or RuntimeError on bad graphs
        raise ConfigError(f"onnx: {path}: the graph's shapes cannot be inferred ({type(err).__name__}: "
                          f"{' '.join(str(err).split())[:80]})") from None
    batch = _shape(model.graph.input[0])[0]
    shapes = {v.name: _shape(v) for v in (*inferred.graph.value_info, *inferred.graph.output)}
    for name in (out for node in inferred.graph.node for out in node.output if out):
        dims = shapes.get(name)
        if dims is None or any(not isinstance(d, int) and d != batch for d in dims):
            raise ConfigError(f"onnx: {path}: value {name!r} has no static shape ({dims}; only the batch axis "
                              f"{batch!r} may vary), as an exported policy's values have")
        size = int(np.prod([d for d in dims if isinstance(d, int)], dtype=np.float64))
        if size > MAX_ROW_ELEMENTS:
            raise ConfigError(f"onnx: {path}: value {name!r} has {size:,} elements per row; exported policies have "
                              f"at most {MAX_ROW_ELEMENTS:,} (agents.rl.export_checks.MAX_ROW_ELEMENTS)")


# -- outputs ---------------------------------------------------------------------------------
def check_action(where: str, value: np.ndarray, rows: int, space: ActionSpace) -> np.ndarray:
    """``value`` if it is a valid batch of ``rows`` actions of ``space`` (never clipped), else a ConfigError."""
    value = np.asarray(value)
    want = f"{where}: expected {space.describe()}"
    if value.shape != (rows, *space.shape) or value.dtype.kind not in "iuf":
        raise ConfigError(f"{want} with batch={rows}, got {value.dtype} of shape {value.shape}")
    flat = value.reshape(-1)
    bad = ~np.isfinite(flat) if value.dtype.kind == "f" else np.zeros(len(flat), dtype=bool)
    if space.integer and value.dtype.kind == "f":
        bad |= flat != np.round(flat)
    low, high = (np.broadcast_to(b, value.shape[1:] or (1,)) for b in (space.low, space.high))
    if not space.integer:  # float32 rounding of an unscaled squashed action may pass a bound by an ulp
        slack = BOX_ULPS * np.maximum(1.0, np.maximum(np.abs(low), np.abs(high)))
        low, high = low - slack, high + slack
    per_row = value.reshape(rows, -1)
    bad |= ((per_row < low) | (per_row > high)).reshape(-1)
    if bad.any():
        raise ConfigError(f"{want}, got {flat[np.argmax(bad)].item()!r} (an exported policy's output is never clipped)")
    return value
