"""The config key reference, generated from the schema: one Markdown table per config section.

    python -m layerinfo.workflow.schemadoc                    # print the tables
    python -m layerinfo.workflow.schemadoc --update config/README.md

``--update`` rewrites the block between ``<!-- config-keys: schemas/config.schema.yaml -->`` and
``<!-- end config-keys -->`` of the given Markdown files, so the reference never drifts from the
schema (tests/unit/test_docs.py checks that it does not).
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

import yaml

SCHEMA = Path(__file__).resolve().parents[3] / "schemas" / "config.schema.yaml"
BLOCK = re.compile(r"^(<!-- config-keys: (\S+) -->\n)(.*?)(<!-- end config-keys -->)$", re.S | re.M)


def schema_branches(node: dict, schema: dict) -> list[dict]:
    """``node`` with its $ref followed and its allOf/oneOf/anyOf and if/then/else branches."""
    if not isinstance(node, dict):
        return []
    if "$ref" in node:
        target = schema
        for part in node["$ref"].lstrip("#/").split("/"):
            target = target[part]
        return schema_branches(target, schema) + schema_branches({k: v for k, v in node.items() if k != "$ref"}, schema)
    nodes = [node]
    for key in ("allOf", "oneOf", "anyOf"):
        for branch in node.get(key, []):
            nodes += schema_branches(branch, schema)
    for key in ("then", "else"):
        nodes += schema_branches(node.get(key), schema)
    return nodes


def _type(nodes: list[dict]) -> str:
    for node in nodes:
        if "enum" in node:
            return "one of " + ", ".join(f"`{v}`" for v in node["enum"])
    kinds = []
    for node in nodes:
        if "const" in node:
            kinds.append(f"`{node['const']}`")
        kind = node.get("type")
        for k in kind if isinstance(kind, list) else [kind] if kind else []:
            if k == "array":
                items = _type(schema_branches(node.get("items", {}), _type.schema))
                k = f"list of {items}" if items else "list"
            kinds.append(str(k))
    return " or ".join(dict.fromkeys(kinds))


def _first(nodes: list[dict], key: str):
    for node in nodes:
        if key in node:
            return node[key]
    return None


def _cell(text) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def rows(schema: dict) -> dict[str, list[tuple[str, str, str, str]]]:
    """Per top-level section, ``(key, type, default, description)`` of every key below it."""
    _type.schema = schema
    sections: dict[str, list[tuple[str, str, str, str]]] = {}

    def walk(path: str, nodes: list[dict], out: list) -> None:
        properties: dict[str, list[dict]] = {}
        for node in nodes:
            for name, sub in node.get("properties", {}).items():
                properties.setdefault(name, []).extend(schema_branches(sub, schema))
        extra = [n for node in nodes if isinstance(node.get("additionalProperties"), dict)
                 for n in schema_branches(node["additionalProperties"], schema)]
        children = [(name, subs) for name, subs in properties.items()]
        if extra:
            children.append(("<name>", extra))
        for name, subs in children:
            key = f"{path}.{name}"
            default = _first(subs, "default")
            description = _first(subs, "description") or ""
            out.append((key, _type(subs), "" if default is None else json.dumps(default), description))
            walk(key, subs, out)

    for name, node in schema["properties"].items():
        nodes = schema_branches(node, schema)
        out: list = []
        walk(name, nodes, out)
        sections[name] = out
    return sections


def reference(schema: dict) -> str:
    """The Markdown tables: a heading per section with its description, then its keys."""
    parts = []
    for section, keys in rows(schema).items():
        description = _first(schema_branches(schema["properties"][section], schema), "description") or ""
        parts.append(f"### `{section}`\n\n{_cell(description)}\n")
        parts.append("| key | type | default | description |\n|---|---|---|---|")
        parts += [f"| `{k}` | {_cell(t)} | {_cell(d)} | {_cell(s)} |" for k, t, d, s in keys]
        parts.append("")
    return "\n".join(parts)


def load(path: str | Path = SCHEMA) -> dict:
    with open(path, encoding="utf-8") as f:
        return yaml.safe_load(f)


def update_blocks(text: str, base: Path) -> str:
    """``text`` with every config-keys block regenerated from the schema its marker names."""
    return BLOCK.sub(lambda m: m.group(1) + reference(load(base / m.group(2))) + m.group(4), text)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m layerinfo.workflow.schemadoc",
                                     description="the config key reference from the schema, as Markdown")
    parser.add_argument("--update", nargs="+", metavar="FILE", help="rewrite the config-keys blocks of these files")
    args = parser.parse_args(argv)
    if not args.update:
        print(reference(load()), end="")
        return 0
    for name in args.update:
        path = Path(name)
        text = path.read_text(encoding="utf-8")
        updated = update_blocks(text, Path.cwd())
        if updated != text:
            path.write_text(updated, encoding="utf-8")
            print(f"updated {path}")
    return 0


if __name__ == "__main__":  # pragma: no cover - the command line above
    raise SystemExit(main())
