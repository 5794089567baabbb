"""Write ``configs/env/<task>.yaml`` of every built-in task from its dataclasses.

    python configs/generate.py            # rewrite the generated env configs
    python configs/generate.py --check    # exit 1 (naming the files) if one is out of date

The dataclasses are the one source of every default: a task's env config dataclass (the
type of ``Task().config``: its fields are the env's keyword arguments), its training options
(``Task.training_options``), its evaluation defaults (``Task.evaluation_defaults``) and any
other typed block the task takes (dispatch's ``reference``). Each generated file lists every
field with its declared default and the first sentence of the field's docstring, so that
``env=<task>`` selects a complete, readable config and a run directory's ``config.yaml``
records every value. ``tests/test_configs.py`` checks that the committed files are what this
script writes. Derived configs (``defaults: [<task>, _self_]`` plus the keys that differ,
e.g. ``backorders.yaml``) are written by hand and never generated.
"""

from __future__ import annotations

import argparse
import ast
import dataclasses
import inspect
import re
import sys
import textwrap
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
ENV_DIR = ROOT / "configs" / "env"
COMMENT_COLUMN = 28
WIDTH = 110
# what a reader of each file needs first (how to select it, its multi-agent face)
INTRO = {
    "lost_sales": "The lost-sales task: fulfillgym/LostSales-v0, single-SKU replenishment with lead times.",
    "fulfillment_center": "The fulfilment centre: fulfillgym/FulfillmentCenter-v0 and PettingZoo fulfillment_center_v0,\n"
                          "N SKUs under one shared storage capacity. One policy for every SKU: shared=true.",
    "dispatch": "Same-day delivery from the fulfilment centre: fulfillgym/SameDayDelivery-v0. One policy for\n"
                "every courier (PettingZoo courier_dispatch_v0): shared=true agent=maskable_ppo.",
    "dispatch_euro_neurips": "The EURO Meets NeurIPS 2022 dynamic VRPTW protocol on the dispatch simulator\n"
                             "(docs/dispatch_euro_neurips.md); a competition instance: env.instance=<file.txt>. The\n"
                             "same-day fields (arrival rates, locations, sizes, speed) are not used by these rules.",
    "slotting": "Dynamic storage assignment in a piece-picking warehouse: fulfillgym/Slotting-v0. One policy for\n"
                "every putaway operator (PettingZoo slotting_v0): shared=true agent=maskable_ppo.",
    "network": "The multi-echelon network: fulfillgym/Network-v0 (one central agent) and PettingZoo network_v0\n"
               "(one agent per node). Other topologies: env=network_serial, env=network_orgym, or a `nodes` list.",
}


def built_in_tasks() -> dict[str, type]:
    """The registered tasks defined in this repository (name -> class)."""
    from agents.registry import TASKS, task_class

    return {name: task_class(name) for name, target in TASKS.items() if target.startswith("agents.")}


def declared(value):
    """A declared default as plain YAML data: dataclasses as dicts, tuples as lists."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: declared(getattr(value, f.name)) for f in dataclasses.fields(value)
                if f.init and not f.name.startswith("_")}
    if isinstance(value, dict):
        return {k: declared(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [declared(v) for v in value]
    return value


def defaults(cls: type) -> dict:
    """The declared defaults of config dataclass ``cls`` (not the values ``__post_init__``
    derives from them: ``q_max: null`` stays null)."""
    out = {}
    for f in dataclasses.fields(cls):
        if f.init and not f.name.startswith("_"):
            value = f.default_factory() if f.default is dataclasses.MISSING else f.default
            out[f.name] = defaults(type(value)) if dataclasses.is_dataclass(value) else declared(value)
    return out


def field_docs(cls: type) -> dict[str, str]:
    """Field name -> the first sentence of its attribute docstring (the string right under
    the field), over ``cls`` and its dataclass bases."""
    docs: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        if not dataclasses.is_dataclass(klass):
            continue
        docs.update(described(klass))
        body = ast.parse(textwrap.dedent(inspect.getsource(klass))).body[0].body
        for node, after in zip(body, body[1:], strict=False):
            if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) \
                    and isinstance(after, ast.Expr) and isinstance(after.value, ast.Constant) \
                    and isinstance(after.value.value, str):
                docs[node.target.id] = first_sentence(after.value.value)
    return docs


def described(cls: type) -> dict[str, str]:
    """Field name -> its description in the class docstring, for dataclasses that document
    their fields there rather than under each field: ``name``: what it is; Topic (``name``):
    its choices; or ``name`` (a remark)."""
    text = without_roles(cls.__doc__ or "")
    out = {}
    for f in dataclasses.fields(cls):
        name = re.escape(f"``{f.name}``")
        for pattern in (rf"{name}(?: \([^)]*\))?: (.+?)(?:[;.](?: |$)|$)", rf"\({name}\): (.+?)(?:[;.](?: |$)|$)",
                        rf"{name} \(([^)]*)\)"):
            found = re.search(pattern, text)
            if found:
                out[f.name] = found.group(1).replace("``", "")
                break
    return out


def without_roles(doc: str) -> str:
    """A docstring on one line, reST roles dropped (:class:`X`: X)."""
    return " ".join(re.sub(r":\w+:`([^`]+)`", r"\1", doc).split())


def plain_text(doc: str) -> str:
    """:func:`without_roles`, literals unquoted too (``x``: x)."""
    return without_roles(doc).replace("``", "")


def first_sentence(doc: str) -> str:
    text = plain_text(doc)
    return re.split(r"(?<=\.)\s", text, maxsplit=1)[0]


def scalar(value) -> str:
    return yaml.safe_dump(value, default_flow_style=True, width=10**6).strip().removesuffix("...").strip()


def flow(value) -> str:
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {flow(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(flow(v) for v in value) + "]"
    return scalar(value)


def line(indent: int, text: str, comment: str | None) -> str:
    """``text`` indented, then ``comment`` from the comment column, cut to ``WIDTH`` at a word."""
    text = " " * indent + text
    if not comment:
        return text
    out = f"{text.ljust(COMMENT_COLUMN - 1)} # {comment}"
    return out if len(out) <= WIDTH else out[:WIDTH - 4].rsplit(" ", 1)[0] + " ..."


def block(values: dict, docs: dict[str, str], indent: int, nested: dict[str, type]) -> list[str]:
    """YAML lines of ``values``: nested mappings as blocks (commented from ``nested[key]``'s
    docs), lists of mappings one flow mapping per line, everything else in flow style."""
    lines = []
    for key, value in values.items():
        if isinstance(value, dict) and value:
            lines.append(line(indent, f"{key}:", docs.get(key)))
            sub = nested.get(key)
            lines += block(value, field_docs(sub) if sub else {}, indent + 2, {})
        elif isinstance(value, list) and any(isinstance(v, dict) for v in value):
            lines.append(line(indent, f"{key}:", docs.get(key)))
            lines += [" " * (indent + 2) + f"- {flow(v)}" for v in value]
        else:
            lines.append(line(indent, f"{key}: {flow(value)}", docs.get(key)))
    return lines


def nested_types(cls: type) -> dict[str, type]:
    """Field name -> dataclass type of the fields of ``cls`` whose default is a dataclass."""
    out = {}
    for f in dataclasses.fields(cls):
        value = f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default
        if dataclasses.is_dataclass(value):
            out[f.name] = type(value)
    return out


def qualified(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def blocks(task_cls: type) -> dict[str, tuple[type, dict]]:
    """The typed blocks of a task's config besides the env fields: name -> (dataclass, values)."""
    task, out = task_cls(), {}
    if dataclasses.is_dataclass(getattr(task, "reference", None)):  # dispatch's hindsight reference
        out["reference"] = (type(task.reference), defaults(type(task.reference)))
    out["training"] = (task_cls.training_options, defaults(task_cls.training_options))
    out["evaluation"] = (type(task_cls.evaluation_defaults), dataclasses.asdict(task_cls.evaluation_defaults))
    return out


def task_title(task_cls: type) -> str:
    return ((task_cls.__doc__ or "").strip().splitlines() or [task_cls.__name__])[0]


def render(name: str, task_cls: type) -> str:
    """The text of ``configs/env/<name>.yaml``."""
    config_cls = type(task_cls().config)
    extra = blocks(task_cls)
    head = ["# GENERATED by `python configs/generate.py` from the dataclasses: do not edit (edit them, then",
            "# rerun it; tests/test_configs.py checks this file is current). Override a value with",
            "# env.<field>=..., or write a derived config: defaults: [<this file>, _self_] plus the keys that differ.",
            *(f"# {text}" for text in (INTRO.get(name) or task_title(task_cls)).splitlines()),
            f"# Env keys: {qualified(config_cls)}",
            *(f"# {key}: {qualified(cls)}" for key, (cls, _) in extra.items())]
    body = [f"_target_: {task_cls.__module__}.{task_cls.__name__}",
            *block(defaults(config_cls), field_docs(config_cls), 0, nested_types(config_cls))]
    for key, (cls, values) in extra.items():
        body += [f"{key}:", *block(values, field_docs(cls), 2, nested_types(cls))]
    return "\n".join(head + body) + "\n"


def generated() -> dict[Path, str]:
    """Path -> text of every generated env config."""
    return {ENV_DIR / f"{name}.yaml": render(name, cls) for name, cls in built_in_tasks().items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python configs/generate.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="only check that the committed files are current")
    args = parser.parse_args(argv)
    files = generated()
    stale = [path for path, text in files.items() if not path.exists() or path.read_text() != text]
    if args.check:
        for path in stale:
            print(f"out of date: {path.relative_to(ROOT)} (run python configs/generate.py)", file=sys.stderr)
        return 1 if stale else 0
    for path in stale:
        path.write_text(files[path])
        print(f"wrote {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    sys.exit(main())
