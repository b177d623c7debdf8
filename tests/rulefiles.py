"""The rules of ``rules/*.smk`` as text, for tests that check what each rule declares."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def rule_bodies() -> dict[str, str]:
    """Rule name -> its text (from ``rule <name>:`` to the next rule), over every rules file."""
    out = {}
    for path in sorted((ROOT / "rules").glob("*.smk")):
        for block in re.split(r"^rule ", path.read_text(), flags=re.M)[1:]:
            name, body = block.split(":", 1)
            out[name.strip()] = body
    return out


def rule_scripts() -> dict[str, str]:
    """Rule name -> the file name of its script (``scripts/<name>``), for rules with a script."""
    out = {}
    for name, body in rule_bodies().items():
        script = re.search(r'script:\s*\n\s*"\.\./scripts/([\w.]+)"', body)
        if script:
            out[name] = script.group(1)
    return out
