"""The cluster and GPU profiles match the rules: every rule whose job picks a device (its script
calls ``stage_device``), and only those, asks for a GPU; memory grows on a retry."""

import re
from pathlib import Path

import yaml
from rulefiles import rule_scripts

ROOT = Path(__file__).resolve().parents[2]


def device_rules() -> set[str]:
    return {rule for rule, script in rule_scripts().items()
            if "stage_device(" in (ROOT / "scripts" / script).read_text()}


def gpu_rules(profile: str) -> set[str]:
    config = yaml.safe_load((ROOT / "profiles" / profile / "config.yaml").read_text())
    return {rule for rule, res in config.get("set-resources", {}).items() if res.get("gpu")}


def test_rules_are_found():
    scripts = rule_scripts()
    assert scripts["train"] == "infoplane_train.py" and len(scripts) > 20
    assert {"train", "estimate"} <= device_rules()


def test_gpu_profile_asks_a_gpu_for_exactly_the_device_rules():
    assert gpu_rules("gpu") == device_rules()


def test_slurm_profile_asks_a_gpu_for_exactly_the_device_rules():
    assert gpu_rules("slurm") == device_rules()
    config = yaml.safe_load((ROOT / "profiles" / "slurm" / "config.yaml").read_text())
    for rule in gpu_rules("slurm"):
        assert config["set-resources"][rule]["slurm_partition"] == "gpu", rule


def test_slurm_profile_leaves_the_account_to_the_plugin():
    text = (ROOT / "profiles" / "slurm" / "config.yaml").read_text()
    assert "CHANGE_ME" not in text
    assert "slurm_account" not in yaml.safe_load(text)["default-resources"]


def test_no_rule_fixes_its_memory():
    # a fixed mem_mb in a rule overrides the profile's `* attempt`, so a retry would fail alike
    for path in (ROOT / "rules").glob("*.smk"):
        assert not re.search(r"mem_mb\s*=\s*\d+\s*,", path.read_text()), path.name
