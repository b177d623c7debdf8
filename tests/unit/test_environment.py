"""The pins live in requirements.txt; every other environment description must agree with it."""

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def _pins(lines):
    pins = {}
    for line in lines:
        line = line.split("#")[0].strip()
        if line:
            name, version = re.fullmatch(r"([A-Za-z0-9_.\-]+)==([^\s;]+)", line).groups()
            pins[name.lower()] = version
    return pins


def test_requirements_are_exact_pins_with_the_required_versions():
    pins = _pins((ROOT / "requirements.txt").read_text().splitlines())
    assert pins["torch"] == "2.14.1" and pins["torchvision"] == "0.29.1"
    assert pins["snakemake"].startswith("9.27.")
    for name in ("h5py", "numpy", "matplotlib", "pytest", "pandas", "scipy", "tqdm", "jsonschema", "scikit-learn"):
        assert name in pins


def test_conda_environment_uses_the_same_pins():
    requirements = _pins((ROOT / "requirements.txt").read_text().splitlines())
    env = yaml.safe_load((ROOT / "envs" / "layerinfo.yaml").read_text())
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d)
    env_pins = _pins(pip)
    assert env_pins, "envs/layerinfo.yaml lists no pinned packages"
    for name, version in env_pins.items():
        assert requirements.get(name) == version, f"{name}: env {version} vs requirements.txt {requirements.get(name)}"
    # Workflow and test tools run on the submitting side, not inside a stage's environment.
    tools = {"snakemake", "snakefmt", "pytest", "import-linter", "grimp"}  # and the import checker
    runtime = {name for name in requirements if name not in tools and not name.startswith("snakemake-")}
    assert runtime <= set(env_pins), f"missing from envs/layerinfo.yaml: {sorted(runtime - set(env_pins))}"


def test_container_installs_the_pins_on_a_digest_pinned_base():
    from layerinfo.workflow.recipes import check_base_recipe, check_recipe

    recipes = sorted((ROOT / "containers").glob("*.def"))
    assert recipes
    for recipe in recipes:
        text = recipe.read_text()
        assert re.search(r"^From: \{\{ base \}\}$", text, re.M)  # the common base
        assert "--require-hashes" in text and "pip check" in text
        assert check_recipe(recipe) == [], recipe
    # the registry base is pinned by digest
    docker = (ROOT / "containers" / "base" / "docker.def").read_text()
    assert re.search(r"^From: \S+@sha256:[0-9a-f]{64}$", docker, re.M)
    assert check_base_recipe(ROOT / "containers" / "base" / "docker.def") == []
