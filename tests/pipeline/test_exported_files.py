"""Exported policy files that are refused (``agents.rl.export_checks``), with no training run:
small ONNX graphs built with ``onnx.helper`` in memory for the default lost-sales task, with a
policy card that is valid unless a test breaks one field. A refused file is a one-line
ConfigError, raised before onnxruntime runs it (a 1e15-iteration Loop is never run), or when
it answers an action outside the card's action space (never clipped).
"""

from __future__ import annotations

import json
import time

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from agents.registry import task_class
from agents.rl import export_checks
from agents.rl.exported import METADATA_KEY, OnnxPolicy, card_path
from envs.core.config import ConfigError
from tests.entry_points import run_in_process

OPSET = 17


def make_card(continuous: bool = False) -> dict:
    """A valid card of a lost-sales policy with order-up-to levels (as experiments.export writes)."""
    task = task_class("lost_sales")(action_type="continuous" if continuous else "discrete")
    essentials = task.model_interface().essentials()
    levels = essentials["level_max"] - essentials["level_min"] + 1
    action = ({"type": "Box", "shape": [1], "dtype": "float32", "low": -1.0, "high": 1.0} if continuous else
              {"type": "Discrete", "n": levels, "start": 0, "dtype": "int64"})
    return {"task": "lost_sales", "env_config": task.env_kwargs(), "shared": False, "agent": "ppo",
            "essentials": essentials, "input_names": ["obs"], "output_names": ["action", "order"],
            "model_observation_space": {"type": "Box", "shape": [task.config.obs_dim], "dtype": "float32"},
            "model_action_space": action}


def constant_graph(value: float, integer: bool = True, width: int = 2, nodes=(), inputs=None, outputs=None,
                   embedded: dict | None = None) -> onnx.ModelProto:
    """``action`` = ``value`` for every row (int64 ``(batch,)`` or float32 ``(batch, 1)``), ``order`` = 0."""
    zero = helper.make_tensor("zero", TensorProto.FLOAT, [], [0.0])
    const = helper.make_tensor("value", TensorProto.FLOAT, [], [value])
    body = [
        helper.make_node("Slice", ["obs", "starts", "ends", "axes"], ["first"]),  # (batch, 1)
        helper.make_node("Mul", ["first", "zero"], ["zeros"]),
        helper.make_node("Add", ["zeros", "value"], ["raw"]),
        helper.make_node("Flatten", ["zeros"], ["flat"], axis=1),
        helper.make_node("Cast", ["flat"], ["order2d"], to=TensorProto.INT64),
        helper.make_node("Squeeze", ["order2d", "axes"], ["order"]),
    ]
    if integer:
        body += [helper.make_node("Cast", ["raw"], ["raw_int"], to=TensorProto.INT64),
                 helper.make_node("Squeeze", ["raw_int", "axes"], ["action"])]
    else:
        body.append(helper.make_node("Identity", ["raw"], ["action"]))
    ints = [helper.make_tensor(n, TensorProto.INT64, [1], [v]) for n, v in (("starts", 0), ("ends", 1), ("axes", 1))]
    action = (helper.make_tensor_value_info("action", TensorProto.INT64, ["batch"]) if integer else
              helper.make_tensor_value_info("action", TensorProto.FLOAT, ["batch", 1]))
    graph = helper.make_graph(
        [*body, *nodes], "policy",
        inputs or [helper.make_tensor_value_info("obs", TensorProto.FLOAT, ["batch", width])],
        outputs or [action, helper.make_tensor_value_info("order", TensorProto.INT64, ["batch"])],
        [zero, const, *ints])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = 8
    if embedded is not None:
        entry = model.metadata_props.add()
        entry.key, entry.value = METADATA_KEY, json.dumps(embedded)
    return model


def save(tmp_path, model: onnx.ModelProto, card: dict | None, name: str = "policy.onnx"):
    path = tmp_path / name
    onnx.save(model, str(path))
    if card is not None:
        card_path(path).write_text(json.dumps(card))
    return path


def loop_graph(trips: int) -> onnx.ModelProto:
    """A graph whose ``action`` comes out of a Loop of ``trips`` iterations (never to be run)."""
    body = helper.make_graph(
        [helper.make_node("Identity", ["cond_in"], ["cond_out"]), helper.make_node("Identity", ["v_in"], ["v_out"])],
        "body", [helper.make_tensor_value_info("i", TensorProto.INT64, []),
                 helper.make_tensor_value_info("cond_in", TensorProto.BOOL, []),
                 helper.make_tensor_value_info("v_in", TensorProto.FLOAT, ["batch", 2])],
        [helper.make_tensor_value_info("cond_out", TensorProto.BOOL, []),
         helper.make_tensor_value_info("v_out", TensorProto.FLOAT, ["batch", 2])])
    trip = helper.make_tensor("trips", TensorProto.INT64, [], [trips])
    cond = helper.make_tensor("cond", TensorProto.BOOL, [], [True])
    graph = helper.make_graph(
        [helper.make_node("Loop", ["trips", "cond", "obs"], ["looped"], body=body),
         helper.make_node("ArgMax", ["looped"], ["action"], axis=1, keepdims=0),
         helper.make_node("Identity", ["action"], ["order"])], "policy",
        [helper.make_tensor_value_info("obs", TensorProto.FLOAT, ["batch", 2])],
        [helper.make_tensor_value_info("action", TensorProto.INT64, ["batch"]),
         helper.make_tensor_value_info("order", TensorProto.INT64, ["batch"])], [trip, cond])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = 8
    return model


OBS = np.array([[3.0, 4.0], [0.0, 2.0]], np.float32)


def test_a_crafted_valid_graph_acts(tmp_path):
    """The baseline of the tests below: the card and graph pass every check and act."""
    card = make_card()
    policy = OnnxPolicy(save(tmp_path, constant_graph(4), card))
    action, _ = policy.model_action(OBS)
    np.testing.assert_array_equal(action, [4, 4])
    assert policy.predict(OBS)[0].shape == (2,)


# -- the graph, before it runs -----------------------------------------------------------------
def test_a_1e15_iteration_loop_is_refused_without_running_it(tmp_path, monkeypatch, capsys):
    path = save(tmp_path, loop_graph(10**15), make_card())
    started = time.process_time()
    with pytest.raises(ConfigError, match=r"uses operator Loop .*no control flow"):
        OnnxPolicy(path)
    assert time.process_time() - started < 1.0
    run_in_process("experiments.benchmark", [f"onnx=[{path}]", "agents=[base_stock]",
                                             f"hydra.run.dir={tmp_path / 'bench'}"],
                   tmp_path, monkeypatch, capsys).assert_one_line_error("uses operator Loop")


@pytest.mark.parametrize("case, want", [
    ("custom_domain", "uses operator com.evil.Spin"),
    ("too_many_nodes", f"exported policies have at most {export_checks.MAX_NODES:,}"),
    ("external_data", "keeps weights in external files"),
    ("two_inputs", "graph inputs: expected one float32 input 'obs' of shape (batch, 2)"),
    ("wrong_width", "graph inputs: expected one float32 input 'obs' of shape (batch, 2)"),
    ("rank_3", "graph inputs: expected one float32 input 'obs' of shape (batch, 2)"),
    ("static_batch", "with a dynamic batch axis"),
    ("int_input", "graph inputs: expected one float32 input"),
    ("output_names", "graph outputs: expected ['action', 'order']"),
    ("float_action", "graph output 'action': expected int64 of shape (batch) for Discrete, got float"),
    ("broadcast", f"value 'huge' has 25,000,000 elements per row; exported policies have at most "
                  f"{export_checks.MAX_ROW_ELEMENTS:,}"),
    ("data_shape", "has no static shape (['unk__0', 2]; only the batch axis 'batch' may vary)"),
])
def test_graphs_unlike_an_exported_policy_are_refused_before_they_run(tmp_path, case, want):
    obs = lambda dims, t=TensorProto.FLOAT: [helper.make_tensor_value_info("obs", t, dims)]  # noqa: E731
    order = helper.make_tensor_value_info("order", TensorProto.INT64, ["batch"])
    model = {
        "custom_domain": lambda: constant_graph(1, nodes=[helper.make_node("Spin", ["obs"], ["x"], domain="com.evil")]),
        "too_many_nodes": lambda: constant_graph(1, nodes=[helper.make_node("Identity", ["obs"], [f"n{i}"])
                                                           for i in range(export_checks.MAX_NODES)]),
        "external_data": lambda: constant_graph(1),
        "two_inputs": lambda: constant_graph(1, inputs=obs(["batch", 2]) + [
            helper.make_tensor_value_info("more", TensorProto.FLOAT, ["batch", 2])]),
        "wrong_width": lambda: constant_graph(1, width=3),
        "rank_3": lambda: constant_graph(1, inputs=obs(["batch", 2, 1])),
        "static_batch": lambda: constant_graph(1, inputs=obs([4, 2])),
        "int_input": lambda: constant_graph(1, inputs=obs(["batch", 2], TensorProto.INT64)),
        "output_names": lambda: constant_graph(1, outputs=[
            helper.make_tensor_value_info("action", TensorProto.INT64, ["batch"]), order,
            helper.make_tensor_value_info("zeros", TensorProto.FLOAT, ["batch", 1])]),
        "float_action": lambda: constant_graph(0.5, integer=False),
        "broadcast": lambda: constant_graph(1, nodes=[  # two 20 kB constants -> 100 MB per call
            helper.make_node("Constant", [], ["row"], value=helper.make_tensor("r", TensorProto.FLOAT, [1, 5000],
                                                                               np.ones(5000))),
            helper.make_node("Constant", [], ["col"], value=helper.make_tensor("c", TensorProto.FLOAT, [5000, 1],
                                                                               np.ones(5000))),
            helper.make_node("Add", ["row", "col"], ["huge"])]),
        "data_shape": lambda: constant_graph(1, nodes=[  # a shape read from the observation
            helper.make_node("Slice", ["obs", "starts", "ends", "zero_axis"], ["head"]),
            helper.make_node("Cast", ["head"], ["head_int"], to=TensorProto.INT64),
            helper.make_node("Squeeze", ["head_int", "zero_axis"], ["target"]),
            helper.make_node("Reshape", ["obs", "target"], ["reshaped"]),
            helper.make_node("Constant", [], ["zero_axis"],
                             value=helper.make_tensor("z", TensorProto.INT64, [1], [0]))]),
    }[case]()
    if case == "external_data":
        weight = model.graph.initializer[0]
        weight.data_location = TensorProto.EXTERNAL
        weight.external_data.add().key, weight.external_data[0].value = "location", "/etc/passwd"
    with pytest.raises(ConfigError, match="^onnx: ") as err:
        OnnxPolicy(save(tmp_path, model, make_card()))
    assert want in str(err.value) and "\n" not in str(err.value)


def test_files_over_the_size_limit_are_refused_unread(tmp_path):
    path = tmp_path / "huge.onnx"
    with path.open("wb") as fh:  # sparse: costs no disk
        fh.truncate(export_checks.MAX_FILE_BYTES + 1)
    with pytest.raises(ConfigError, match=f"exported policies are at most {export_checks.MAX_FILE_BYTES:,} bytes"):
        OnnxPolicy(path)


# -- the card ------------------------------------------------------------------------------
@pytest.mark.parametrize("field, value, want", [
    ("env_config", [1, 2], "env_config: expected a mapping (JSON object)"),
    ("essentials", "order_up_to", "essentials: expected a mapping (JSON object)"),
    ("task", 5, "task: expected a non-empty string"),
    ("agent", "recurrent_ppo", "agent: expected one of ppo, a2c"),
    ("shared", "no", "shared: expected true or false"),
    ("input_names", ["obs", "mask"], "input_names: expected a list of 1 name"),
    ("output_names", ["order", "action"], "output_names: expected a list of unique names, 'action' first"),
    ("output_names", ["action"], "output_names: expected ['action', 'order'] for env=lost_sales"),
    ("sha256", "abc", "sha256: expected 64 lowercase hex digits"),
    ("training", [], "training: expected a mapping"),
    ("model_action_space", {"type": "Discrete", "n": 0}, "model_action_space.n: expected an integer in [1, "),
    ("model_action_space", {"type": "Tuple"}, "model_action_space.type: expected one of Discrete"),
    ("model_action_space", {"type": "Box", "shape": [1], "low": 1.0, "high": -1.0}, "expected low <= high"),
    ("model_observation_space", {"type": "Box", "shape": [3]}, "graph inputs: expected one float32 input 'obs' "
                                                               "of shape (batch, 3)"),
    ("model_observation_space", None, "model_observation_space: expected a mapping"),
    ("env_config", {"q_max": "many"}, "env.q_max: expected an integer"),
    ("essentials", {"parameterisation": "order_up_to"}, "incomplete essentials for LostSales-v0"),
])
def test_card_fields_are_checked_in_one_line(tmp_path, field, value, want):
    card = make_card()
    card[field] = value
    with pytest.raises(ConfigError, match="^onnx: ") as err:
        OnnxPolicy(save(tmp_path, constant_graph(1), card))
    assert want in str(err.value) and "\n" not in str(err.value), err.value


def test_a_card_that_disagrees_with_the_embedded_copy_is_refused(tmp_path):
    card = make_card()
    edited = {**card, "essentials": {**card["essentials"], "level_min": 5}}
    with pytest.raises(ConfigError, match="essentials differ from the copy embedded in the file"):
        OnnxPolicy(save(tmp_path, constant_graph(1, embedded=card), edited))
    assert OnnxPolicy(save(tmp_path, constant_graph(1, embedded=card), None, "alone.onnx")).card == card


# -- the outputs, while it acts -----------------------------------------------------------
@pytest.mark.parametrize("value, continuous, want", [
    (-1, False, "got -1"),
    (99, False, "got 99"),
    (float("nan"), True, "got nan"),
    (1.5, True, "got 1.5"),
    (float("inf"), True, "got inf"),
])
def test_actions_outside_the_space_are_refused_not_clipped(tmp_path, value, continuous, want):
    card = make_card(continuous)
    policy = OnnxPolicy(save(tmp_path, constant_graph(value, integer=not continuous), card))
    with pytest.raises(ConfigError) as err:
        policy.predict(OBS)
    space = "Box finite numbers in [-1, 1], shape (batch, 1)" if continuous else "Discrete integers in [0, "
    assert str(err.value).startswith("onnx: policy.onnx output 'action': expected " + space), err.value
    assert want in str(err.value)


def test_fractional_or_misshapen_actions_of_integer_spaces_are_refused():
    space = export_checks.parse_action_space("space", {"type": "MultiDiscrete", "nvec": [3, 4]})
    ok = np.array([[0, 3], [2, 0]])
    assert export_checks.check_action("out", ok, 2, space) is ok
    with pytest.raises(ConfigError, match=r"out: expected MultiDiscrete integers in \[0, its bounds\].* got 0.5"):
        export_checks.check_action("out", np.array([[0.5, 1.0], [0.0, 0.0]]), 2, space)
    with pytest.raises(ConfigError, match=r"got 3"):  # 3 is out of the first dimension's 0..2
        export_checks.check_action("out", np.array([[3, 1], [0, 0]]), 2, space)
    with pytest.raises(ConfigError, match=r"with batch=2, got int64 of shape \(2, 3\)"):
        export_checks.check_action("out", np.zeros((2, 3), np.int64), 2, space)
