"""Policies from files written by ``experiments.export``: ONNX and TorchScript.

An exported file maps a batch of *raw* ``LostSales-v0`` observations (float32,
``(n, obs_dim)``) to ``action`` (the model's action in its training action space) and
``order`` (int64 order quantities); observation normalisation and the action
parameterisation are inside the file. :class:`OnnxPolicy` needs only NumPy and
onnxruntime (no torch, no stable-baselines3); :class:`TorchScriptPolicy` needs torch.
Both speak the policy protocol of ``agents.base`` and return actions of the *base*
env: the order itself for a discrete env, ``2 * q / q_max - 1`` (float32, ``(n, 1)``)
for a continuous one, which ``LostSales-v0`` maps back to exactly ``q``.

The policy card ``<file>.json`` written beside the file supplies ``q_max`` and the
action type; without it the same fields are read from the file's own metadata.
"""

from __future__ import annotations

import hashlib
import json
import logging
import warnings
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

CARD_SUFFIX = ".json"
METADATA_KEY = "fulfillgym"  # ONNX metadata_props key / TorchScript extra file of the essentials
# Env parameters an exported policy cannot be evaluated without (shapes and action meaning).
SHAPE_KEYS = ("lead_time", "q_max", "action_type")


def card_path(path: str | Path) -> Path:
    return Path(str(path) + CARD_SUFFIX)


def sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def plain(value):
    """JSON-ready copy of a config dict: tuples as lists, NumPy values as Python."""
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [plain(v) for v in value]
    return value.item() if isinstance(value, np.generic) else value


def env_config(config) -> dict:
    """``LostSalesConfig.to_dict()`` as stored in cards (derived ``q_max`` included)."""
    return plain(config.to_dict())


def _config_error(message: str) -> Exception:
    from envs.core.config import ConfigError  # lazy: keeps this module numpy-only

    return ConfigError(message)


class _ExportedPolicy:
    """Shared protocol logic; subclasses implement :meth:`run` and :meth:`_embedded`."""

    format = "exported"

    def __init__(self, path: str | Path, card: dict | None = None, name: str | None = None,
                 verify: bool = True):
        self.path = Path(path)
        if not self.path.is_file():
            raise _config_error(f"{self.format}: {self.path} not found")
        if card is None:
            card = self._read_card()
        self.card = card
        if verify and card.get("sha256") and card["sha256"] != sha256(self.path):
            raise _config_error(f"{self.format}: {self.path} does not match the SHA-256 in its "
                                f"card {card_path(self.path)} (file changed after export)")
        env = card["env_config"]
        self.q_max, self.action_type = int(env["q_max"]), str(env["action_type"])
        self.obs_dim = max(int(env["lead_time"]), 1)
        self.name = name or card.get("agent", self.path.stem)

    def _read_card(self) -> dict:
        target = card_path(self.path)
        if target.exists():
            return json.loads(target.read_text())
        return self._embedded()

    def _embedded(self) -> dict:  # pragma: no cover - abstract
        raise NotImplementedError

    def run(self, obs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:  # pragma: no cover
        """``(action, order)`` for a float32 batch ``(n, obs_dim)`` of raw observations."""
        raise NotImplementedError

    def orders(self, obs: np.ndarray) -> np.ndarray:
        """Order quantities (int64, ``(n,)``) for a batch of raw observations."""
        batch = np.asarray(obs, dtype=np.float32).reshape(-1, self.obs_dim)
        return np.asarray(self.run(batch)[1], dtype=np.int64)

    def env_action(self, q: np.ndarray) -> np.ndarray:
        """Base-env actions for orders ``q`` (same as ``agents.base.orders_to_actions``)."""
        if self.action_type == "discrete":
            return np.asarray(q, dtype=np.int64)
        a = 2.0 * np.asarray(q, dtype=np.float64) / self.q_max - 1.0
        return a.astype(np.float32)[:, None]

    def predict(self, observation, state=None, episode_start=None, deterministic=True):
        obs = np.asarray(observation, dtype=np.float32)
        single = obs.ndim == 1
        action = self.env_action(self.orders(obs))
        return (action[0] if single else action), None

    def params(self) -> dict[str, Any]:
        timesteps = (self.card.get("training") or {}).get("timesteps")
        return {"file": self.path.name} if timesteps is None else {"file": self.path.name,
                                                                    "timesteps": timesteps}

    def check_env(self, config, label: str = "onnx") -> None:
        """ConfigError if ``config`` (a ``LostSalesConfig``) has other shapes or action
        meaning than the policy was exported for; a warning for other differences."""
        mine, env = self.card["env_config"], env_config(config)
        bad = [k for k in SHAPE_KEYS if mine.get(k) != env.get(k)]
        if bad:
            want = ", ".join(f"env.{k}={mine.get(k)}" for k in bad)
            have = ", ".join(f"env.{k}={env.get(k)}" for k in bad)
            raise _config_error(f"{label}: {self.path} was exported for {want}, but the env has "
                                f"{have}")
        other = [k for k in mine if k not in SHAPE_KEYS and mine[k] != env.get(k)]
        if other:
            log.warning("%s: %s was trained with other %s than this env", label, self.path,
                        ", ".join(f"env.{k}" for k in other))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self.path)!r})"


class OnnxPolicy(_ExportedPolicy):
    """An exported ``.onnx`` policy run with onnxruntime (CPUExecutionProvider)."""

    format = "onnx"

    def __init__(self, path: str | Path, card: dict | None = None, name: str | None = None,
                 verify: bool = True):
        super().__init__(path, card, name, verify)
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = 1  # small MLPs: threads cost more than they save
        options.inter_op_num_threads = 1
        self.session = ort.InferenceSession(str(self.path), options,
                                            providers=["CPUExecutionProvider"])
        self.input_name = self.session.get_inputs()[0].name

    def _embedded(self) -> dict:
        import onnx

        model = onnx.load(str(self.path), load_external_data=False)
        meta = {p.key: p.value for p in model.metadata_props}
        if METADATA_KEY not in meta:
            raise _config_error(f"onnx: {self.path} has no card {card_path(self.path)} and no "
                                f"'{METADATA_KEY}' metadata; export it with experiments.export")
        return json.loads(meta[METADATA_KEY])

    def run(self, obs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        feed = {self.input_name: np.ascontiguousarray(obs, np.float32)}
        action, order = self.session.run(None, feed)
        return action, order


class TorchScriptPolicy(_ExportedPolicy):
    """An exported TorchScript ``.pt`` policy run with ``torch.jit.load``."""

    format = "torchscript"

    def __init__(self, path: str | Path, card: dict | None = None, name: str | None = None,
                 verify: bool = True):
        import torch

        self.path = Path(path)
        extra = {METADATA_KEY: ""}
        if self.path.is_file():
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)  # jit.load: still supported
                self.module = torch.jit.load(str(self.path), map_location="cpu",
                                             _extra_files=extra)
            self.module.eval()
        self._extra = extra[METADATA_KEY]
        super().__init__(path, card, name, verify)

    def _embedded(self) -> dict:
        if not self._extra:
            raise _config_error(f"torchscript: {self.path} has no card {card_path(self.path)} "
                                f"and no '{METADATA_KEY}' extra file; export it with "
                                "experiments.export")
        return json.loads(self._extra)

    def run(self, obs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        import torch

        with torch.no_grad():
            action, order = self.module(torch.as_tensor(np.ascontiguousarray(obs, np.float32)))
        return action.numpy(), order.numpy()


def load_exported(path: str | Path, **kwargs) -> _ExportedPolicy:
    """:class:`OnnxPolicy` for ``.onnx`` files, else :class:`TorchScriptPolicy`."""
    cls = OnnxPolicy if str(path).endswith(".onnx") else TorchScriptPolicy
    return cls(path, **kwargs)


def onnx_agents(paths, config) -> dict[str, OnnxPolicy]:
    """Benchmark agents from exported ``.onnx`` files, checked against the benchmark's env.

    Each is named after its file stem, or ``<agent>_onnx`` for the default stem ``policy``;
    repeated names get ``_2``, ``_3``, ...
    """
    agents: dict[str, OnnxPolicy] = {}
    for path in paths:
        if not str(path).endswith(".onnx"):
            raise _config_error(f"onnx: expected a list of .onnx files, got {str(path)!r}")
        policy = OnnxPolicy(path)
        stem = Path(path).stem
        base = f"{policy.card.get('agent', 'policy')}_onnx" if stem == "policy" else stem
        name, k = base, 2
        while name in agents:
            name, k = f"{base}_{k}", k + 1
        policy.name = name
        policy.check_env(config)
        agents[name] = policy
    return agents
