"""Policies from files written by ``experiments.export``: ONNX and TorchScript.

An exported file maps a float32 batch of a model's *raw* input rows (input ``obs``, dynamic
batch axis) to ``action`` (the model's deterministic action in its training action space)
and any extra outputs of the task (lost sales: ``order``); observation normalisation, action
masks and the action parameterisation are inside the file. The rows are the task's
evaluation-env observations (lost sales, a centralised fulfilment-centre model) or one row
per agent (a shared per-SKU fulfilment-centre policy, whose batch axis is then SKUs).

:class:`OnnxPolicy` needs only NumPy and onnxruntime (no torch, no stable-baselines3);
:class:`TorchScriptPolicy` needs torch. Both speak the policy protocol on the evaluation
env: the task's model interface (rebuilt from the policy card, JSON, through the task
registry) cuts observations into rows and turns actions into env actions, exactly as for
the SB3 policy the file was exported from. A garbage file or card is a one-line ConfigError;
``agents.rl.export_checks`` checks the card's fields, an ONNX graph's size, operators, input and
outputs before it runs, and every ``action`` it answers (finite, inside the model's action space;
never clipped). The card beside the file must agree with the copy embedded in it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from agents.rl import export_checks as checks
from agents.rl.adapter import InterfacePolicy
from envs.core.config import ConfigError

log = logging.getLogger(__name__)

CARD_SUFFIX = ".json"
METADATA_KEY = "fulfillgym"  # ONNX metadata_props key / TorchScript extra file of the essentials
ESSENTIAL_KEYS = ("task", "env_config", "shared", "agent", "essentials", "input_names", "output_names",
                  "model_observation_space", "model_action_space")
# Non-finite observations: the graph's output would be meaningless (an int64 order from NaN is
# -2**63), so they are refused before the file is run.
NON_FINITE = "observation: expected finite numbers; got NaN or inf (an exported policy refuses them)"


def card_path(path: str | Path) -> Path:
    return Path(str(path) + CARD_SUFFIX)


def sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class ExportedPolicy(InterfacePolicy):
    """Shared protocol logic; subclasses load the file and implement :meth:`run`."""

    format = "exported"

    def __init__(self, path: str | Path, card: dict | None = None, name: str | None = None,
                 verify: bool = True, task=None):
        self.path = Path(path)
        if not self.path.is_file():
            raise ConfigError(f"{self.format}: {self.path} not found")
        self.card = self._read_card() if card is None else card
        missing = [k for k in ESSENTIAL_KEYS if k not in self.card]
        if missing:
            raise ConfigError(f"{self.format}: the policy card of {self.path} lacks {', '.join(missing)}; "
                              "export the run again with experiments.export")
        where = f"{self.format}: the policy card of {self.path}"
        with checks.card_field(where):
            self.width, self.action_space = checks.check_card(self.card, self.format)
        if verify and self.card.get("sha256") and self.card["sha256"] != sha256(self.path):
            raise ConfigError(f"{self.format}: {self.path} does not match the SHA-256 in its card "
                              f"{card_path(self.path)} (file changed after export)")
        if card is None and card_path(self.path).exists():
            self._check_embedded(where)
        self.name = name or str(self.card["agent"])
        essentials = {**self.card["essentials"], "env_config": self.card["env_config"]}
        with checks.card_field(where):
            self.task = task if task is not None else self.trained_task()
            try:
                self.interface = self.task.model_interface(self.card["shared"], essentials)
            except ConfigError:
                raise
            except (KeyError, TypeError, ValueError) as err:  # a task's interface reading odd essentials
                raise ConfigError(f"essentials: {self.card['essentials']!r:.80} do not fit env={self.task.name} "
                                  f"({type(err).__name__}: {err})") from None
        self.env_overrides = dict(self.interface.env_overrides)
        outputs = ["action", *self.interface.extra_outputs]
        if self.card["output_names"] != outputs:
            raise ConfigError(f"{where}: output_names: expected {outputs} for env={self.card['task']}, "
                              f"got {self.card['output_names']}")

    def _check_embedded(self, where: str) -> None:
        """The card beside the file must say what the file's embedded copy says (if it has one)."""
        try:
            embedded = self._embedded()
        except (ConfigError, ValueError):  # no embedded copy, or an unreadable one
            return
        differ = [k for k in ESSENTIAL_KEYS if isinstance(embedded, dict) and k in embedded
                  and embedded[k] != self.card[k]]
        if differ:
            raise ConfigError(f"{where}: {', '.join(differ)} differ from the copy embedded in the file (the card "
                              "was edited or belongs to another file); export the run again")

    def trained_task(self):
        """The task the policy was trained on, from the card (through the task registry)."""
        from agents.registry import task_class

        return task_class(self.card["task"])(**self.card["env_config"])

    def _read_card(self) -> dict:
        target = card_path(self.path)
        try:
            card = json.loads(target.read_text()) if target.exists() else self._embedded()
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
            raise ConfigError(f"{self.format}: the policy card of {self.path} is not valid JSON "
                              f"({type(err).__name__})") from None
        if not isinstance(card, dict):
            raise ConfigError(f"{self.format}: the policy card of {self.path} is not a JSON object")
        return card

    def _embedded(self) -> dict:  # pragma: no cover - abstract
        raise NotImplementedError

    def run(self, rows: np.ndarray) -> list[np.ndarray]:  # pragma: no cover - abstract
        """The file's outputs (``action`` first) for a float32 batch of raw model rows."""
        raise NotImplementedError

    def model_action(self, obs: np.ndarray, state=None, episode_start=None, deterministic: bool = True):
        """The file's ``action`` for a batch of raw env observations (deterministic, stateless)."""
        rows = np.ascontiguousarray(self.interface.model_obs(obs), dtype=np.float32)
        if not np.all(np.isfinite(rows)):
            raise ValueError(NON_FINITE)
        if rows.ndim != 2 or rows.shape[1] != self.width:
            raise ValueError(f"observation: expected model rows of {self.width} numbers (the policy card's "
                             f"model_observation_space), got shape {rows.shape}")
        outputs = self.run(rows)
        if len(outputs) != len(self.card["output_names"]):
            raise ConfigError(f"{self.format}: {self.path} answered {len(outputs)} outputs, expected "
                              f"{self.card['output_names']}")
        where = f"{self.format}: {self.path.name} output 'action'"
        return checks.check_action(where, outputs[0], len(rows), self.action_space), None

    def params(self) -> dict[str, Any]:
        timesteps = (self.card.get("training") or {}).get("timesteps")
        return {"file": self.path.name} if timesteps is None else {"file": self.path.name, "timesteps": timesteps}

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self.path)!r})"


class OnnxPolicy(ExportedPolicy):
    """An exported ``.onnx`` policy run with onnxruntime (CPUExecutionProvider)."""

    format = "onnx"

    def __init__(self, path: str | Path, card: dict | None = None, name: str | None = None,
                 verify: bool = True, task=None):
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = 1  # small MLPs: threads cost more than they save
        options.inter_op_num_threads = 1
        self.path = Path(path)
        if not self.path.is_file():
            raise ConfigError(f"onnx: {self.path} not found")
        data = checks.read_onnx(self.path)
        self.proto = checks.check_onnx(self.path, data)  # all checked before onnxruntime sees it
        super().__init__(path, card, name, verify, task)
        checks.check_signature(self.path, self.proto, self.card, self.width, self.action_space)
        checks.check_memory(self.path, self.proto)
        self.input_name = self.card["input_names"][0]
        try:
            self.session = ort.InferenceSession(data, options, providers=["CPUExecutionProvider"])
        except Exception as err:  # onnxruntime raises its own exception types for garbage
            raise ConfigError(f"onnx: {self.path} cannot be loaded by onnxruntime ({type(err).__name__}: "
                              f"{' '.join(str(err).split())[:80]})") from None

    def _embedded(self) -> dict:
        meta = {entry.key: entry.value for entry in self.proto.metadata_props}
        if METADATA_KEY not in meta:
            raise ConfigError(f"onnx: {self.path} has no card {card_path(self.path)} and no '{METADATA_KEY}' "
                              "metadata; export it with experiments.export")
        return json.loads(meta[METADATA_KEY])

    def run(self, rows: np.ndarray) -> list[np.ndarray]:
        return self.session.run(None, {self.input_name: np.ascontiguousarray(rows, np.float32)})


class TorchScriptPolicy(ExportedPolicy):
    """An exported TorchScript ``.pt`` policy run with ``torch.jit.load``."""

    format = "torchscript"

    def __init__(self, path: str | Path, card: dict | None = None, name: str | None = None,
                 verify: bool = True, task=None):
        import torch

        self.path = Path(path)
        extra = {METADATA_KEY: ""}
        if self.path.is_file():
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", DeprecationWarning)  # jit.load: still supported
                    self.module = torch.jit.load(str(self.path), map_location="cpu", _extra_files=extra)
            except Exception as err:
                raise ConfigError(f"torchscript: {self.path} cannot be loaded ({type(err).__name__})") from None
            self.module.eval()
        self._extra = extra[METADATA_KEY]
        super().__init__(path, card, name, verify, task)

    def _embedded(self) -> dict:
        if not self._extra:
            raise ConfigError(f"torchscript: {self.path} has no card {card_path(self.path)} and no "
                              f"'{METADATA_KEY}' extra file; export it with experiments.export")
        return json.loads(self._extra)

    def run(self, rows: np.ndarray) -> list[np.ndarray]:
        import torch

        with torch.no_grad():
            outputs = self.module(torch.as_tensor(np.ascontiguousarray(rows, np.float32)))
        return [o.numpy() for o in outputs]


def load_exported(path: str | Path, **kwargs) -> ExportedPolicy:
    """:class:`OnnxPolicy` for ``.onnx`` files, else :class:`TorchScriptPolicy`."""
    cls = OnnxPolicy if str(path).endswith(".onnx") else TorchScriptPolicy
    return cls(path, **kwargs)


def onnx_agents(paths, task) -> dict[str, OnnxPolicy]:
    """Benchmark agents from exported ``.onnx`` files, acting in ``task``'s env (which must
    be compatible with the one they were trained on; other differences draw a warning).

    Each is named after its file stem, or ``<agent>_onnx`` for the default stem ``policy``;
    repeated names get ``_2``, ``_3``, ...
    """
    agents: dict[str, OnnxPolicy] = {}
    for path in paths:
        if not str(path).endswith(".onnx"):
            raise ConfigError(f"onnx: expected a list of .onnx files, got {str(path)!r}")
        policy = OnnxPolicy(path, task=task)
        if policy.card.get("task") != task.name:
            raise ConfigError(f"onnx: {path} is a policy for env={policy.card.get('task')}, not env={task.name}")
        mine = task.env_kwargs()
        differ = [k for k, v in policy.card["env_config"].items() if mine.get(k) != v]
        if differ:
            log.warning("onnx: %s was trained with other %s than this env", path, ", ".join(f"env.{k}" for k in differ))
        stem = Path(path).stem
        base = f"{policy.card.get('agent', 'policy')}_onnx" if stem == "policy" else stem
        name, k = base, 2
        while name in agents:
            name, k = f"{base}_{k}", k + 1
        policy.name = name
        agents[name] = policy
    return agents
