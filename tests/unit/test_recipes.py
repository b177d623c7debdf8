"""The container recipes and locks pass the strict check, and each planted defect fails it."""

import re
import shutil
from pathlib import Path

import pytest

from layerinfo.workflow.recipes import check_base_recipe, check_recipe, main, read_pins

ROOT = Path(__file__).resolve().parents[2]
STAGES = ("data", "compute", "figures")


@pytest.fixture
def tree(tmp_path):
    """A copy of containers/ and requirements.txt to plant defects in."""
    shutil.copytree(ROOT / "containers", tmp_path / "containers")
    shutil.copy(ROOT / "requirements.txt", tmp_path / "requirements.txt")
    return tmp_path


def test_every_stage_recipe_and_lock_pass():
    recipes = sorted((ROOT / "containers").glob("*.def"))
    assert [r.stem for r in recipes] == sorted(STAGES)
    for recipe in recipes:
        assert check_recipe(recipe) == [], recipe
    bases = sorted((ROOT / "containers" / "base").glob("*.def"))
    assert [b.stem for b in bases] == ["debootstrap", "docker"]
    for base in bases:
        assert check_base_recipe(base) == [], base
    assert main([str(r) for r in recipes + bases]) == 0


@pytest.mark.parametrize("defect,expected", [
    (lambda t: _edit(t / "containers/base/docker.def", "@sha256:a", "@sha256:"), "must pin the base by digest"),
    (lambda t: _edit(t / "containers/base/docker.def", re.search(r"@sha256:[0-9a-f]{64}", (
        t / "containers/base/docker.def").read_text())[0], ""), "must pin the base by digest"),
    (lambda t: _edit(t / "containers/base/docker.def", "%test\n", "%tset\n"), "unknown section %tset"),
], ids=["short-digest", "undigested", "misspelt-section"])
def test_planted_base_defect_fails_the_check(tree, defect, expected):
    defect(tree)
    problems = check_base_recipe(tree / "containers" / "base" / "docker.def")
    assert any(expected in p for p in problems), problems
    assert check_base_recipe(tree / "containers" / "base" / "debootstrap.def") == []


def test_locks_hold_the_pins_of_requirements_txt():
    pins = read_pins(ROOT / "requirements.txt")
    for stage in STAGES:
        lock = (ROOT / "containers" / f"{stage}.lock").read_text()
        needed = [p for p in (ROOT / "containers" / f"{stage}.in").read_text().splitlines()
                  if p and not p.startswith("#")]
        for name in needed:
            version = pins[name.lower()]
            assert re.search(rf"^{re.escape(name.lower())}=={re.escape(version)} \\$", lock, re.MULTILINE | re.IGNORECASE), (stage, name)
    # torch, the GPU package, is locked with its CUDA runtime wheels (one image serves GPU and CPU)
    assert re.search(r"^nvidia-\S+==", (ROOT / "containers" / "compute.lock").read_text(), re.MULTILINE)


def _edit(path, old, new, count=1):
    text = path.read_text()
    assert old in text, old
    path.write_text(text.replace(old, new, count))


@pytest.mark.parametrize(
    "defect,expected",
    [
        (lambda t: _edit(t / "containers/compute.def", "%test\n", "%tset\n"),
         ["unknown section %tset", "section %test is missing or empty"]),
        (lambda t: _edit(t / "containers/compute.def", "%labels\n", "# no labels\n%runscript\n"),
         ["section %labels is missing or empty"]),
        (lambda t: _edit(t / "containers/compute.def", "Bootstrap: localimage", "Bootstrap: docker"),
         ["'Bootstrap: localimage' is required"]),
        (lambda t: _edit(t / "containers/compute.def", "From: {{ base }}", "From: containers/other.sif"),
         ["'From: {{ base }}' is required"]),
        (lambda t: _edit(t / "containers/compute.lock", "\n    --hash=sha256:", "\n    #--hash=sha256:", 2),
         ["has no --hash=sha256 line"]),
        (lambda t: (t / "containers/compute.lock").write_text(
            (t / "containers/compute.lock").read_text() + "requests\n"),
         ["'requests' is not pinned with == and hashes"]),
        (lambda t: _edit(t / "containers/compute.lock", "\nnumpy==2.4.6 ", "\nnumpy==2.4.5 "),
         ["numpy==2.4.5 but requirements.txt pins 2.4.6"]),
        (lambda t: _edit(t / "requirements.txt", "scipy==1.17.1", "scipy==1.17.2"),
         ["scipy==1.17.1 but requirements.txt pins 1.17.2"]),
        (lambda t: _edit(t / "containers/compute.def", "%files\n    containers/compute.lock /opt/layerinfo/compute.lock\n", ""),
         ["section %files is missing or empty", "the lock /opt/layerinfo/compute.lock is not copied in by %files"]),
        (lambda t: (t / "containers/compute.lock").unlink(),
         ["%files source containers/compute.lock does not exist"]),
        (lambda t: _edit(t / "containers/compute.def", " --require-hashes", ""),
         ["lacks --require-hashes"]),
        (lambda t: _edit(t / "containers/compute.def", "    /opt/venv/bin/python -m pip check\n", ""),
         ["does not run 'pip check'"]),
        (lambda t: (t / "containers/compute.in").write_text("torch\nseaborn\n"),
         ["seaborn (listed for the stage) is missing from the lock"]),
    ],
    ids=["misspelt-section", "missing-labels", "not-on-the-base", "fixed-base-path", "unhashed-line",
         "unpinned-line", "lock-version-differs", "requirements-moved-on", "missing-files",
         "lock-file-absent", "no-require-hashes", "no-pip-check", "stage-package-not-locked"],
)
def test_planted_defect_fails_the_check(tree, defect, expected, capsys):
    defect(tree)
    problems = check_recipe(tree / "containers" / "compute.def")
    text = "\n".join(problems)
    for fragment in expected:
        assert fragment in text, text
    assert all(p.startswith(str(tree / "containers")) for p in problems)
    assert main([str(tree / "containers" / "compute.def")]) == 1
    # the other stages are untouched by a defect in compute's own files
    if "requirements" not in str(expected):
        assert check_recipe(tree / "containers" / "data.def") == []


@pytest.mark.parametrize("image", ["docker://ghcr.io/example/layerinfo:latest", "containers/compute.img",
                                   "docker://ghcr.io/example/layerinfo@sha256:abc"])
def test_config_refuses_an_image_not_pinned_by_digest(image):
    import yaml

    from layerinfo.workflow.config import ConfigError, validate_config

    config = yaml.safe_load((ROOT / "config.yaml").read_text())
    config["runtime"]["containers"]["compute"] = image
    with pytest.raises(ConfigError) as error:
        validate_config(config, ROOT / "schemas" / "config.schema.yaml")
    message = str(error.value)
    assert "runtime.containers.compute" in message and "pinned by digest" in message
    assert repr(image) in message


def test_config_accepts_sif_paths_and_digest_pinned_images():
    import yaml

    from layerinfo.workflow.config import validate_config

    config = yaml.safe_load((ROOT / "config.yaml").read_text())
    config["runtime"]["containers"]["compute"] = "docker://ghcr.io/example/layerinfo@sha256:" + "0" * 64
    validate_config(config, ROOT / "schemas" / "config.schema.yaml")
    assert config["runtime"]["containers"]["figures"] == "containers/figures.sif"
