"""The package's import rules (pyproject.toml [tool.importlinter]): the core imports no study, a
study no other study, and nothing in the package imports the workflow layer."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LINT = Path(sys.executable).with_name("lint-imports")


def lint(src: Path, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(src)}
    return subprocess.run([str(LINT), "--no-cache"], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=120)


def test_import_contracts_hold():
    result = lint(ROOT / "src")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 kept, 0 broken" in result.stdout


def planted_copy(tmp_path: Path, module: str, line: str) -> Path:
    """A copy of the checkout's package and pyproject with ``line`` appended to ``module``."""
    shutil.copytree(ROOT / "src" / "layerinfo", tmp_path / "src" / "layerinfo",
                    ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    target = tmp_path / "src" / "layerinfo" / module
    target.write_text(target.read_text() + f"\n{line}\n")
    return tmp_path / "src"


def test_core_importing_a_study_breaks_the_layers(tmp_path):
    src = planted_copy(tmp_path, "training.py", "import layerinfo.coding.langevin  # noqa: E402,F401")
    result = lint(src, cwd=tmp_path)
    assert result.returncode == 1
    assert "layerinfo.training -> layerinfo.coding.langevin" in result.stdout


def test_study_importing_another_study_breaks_independence(tmp_path):
    src = planted_copy(tmp_path, "relevance/study.py", "from layerinfo.infoplane import estimate  # noqa")
    result = lint(src, cwd=tmp_path)
    assert result.returncode == 1
    assert "a study never imports another study BROKEN" in result.stdout


def test_science_importing_the_workflow_layer_breaks_the_layers(tmp_path):
    src = planted_copy(tmp_path, "isometry/study.py", "from layerinfo.workflow import jobs  # noqa")
    result = lint(src, cwd=tmp_path)
    assert result.returncode == 1
    assert "layerinfo.isometry.study -> layerinfo.workflow.jobs" in result.stdout


def test_command_line_importing_the_workflow_layer_breaks_the_layers(tmp_path):
    """The command line (cli) sits beside the workflow: it may use the core and the studies,
    never the workflow package, and the core may not use it."""
    src = planted_copy(tmp_path, "cli/main.py", "from layerinfo.workflow import config  # noqa")
    result = lint(src, cwd=tmp_path)
    assert result.returncode == 1
    assert "layerinfo.cli.main -> layerinfo.workflow.config" in result.stdout


def _figures_stage_scripts() -> list[Path]:
    """Scripts of the rules that run in the figures image (``stage_image("figures")``)."""
    from rulefiles import rule_bodies, rule_scripts

    scripts = rule_scripts()
    return sorted({ROOT / "scripts" / scripts[rule] for rule, body in rule_bodies().items()
                   if 'stage_image("figures")' in body})


def test_figures_stage_needs_no_torch():
    """Figures and claims read tables and files: their modules import without torch, so the
    figures image need not carry it (importing torch is also 2 s of every such job)."""
    scripts = _figures_stage_scripts()
    assert len(scripts) >= 10 and ROOT / "scripts" / "relevance_figures.py" in scripts
    imports = sorted({line for s in scripts for line in s.read_text().splitlines()
                      if line.startswith(("from layerinfo", "import layerinfo"))})
    block = ("import sys\n"
             "class NoTorch:\n"
             "    def find_spec(self, name, path=None, target=None):\n"
             "        if name.split('.')[0] == 'torch':\n"
             "            raise ImportError('torch is not available here')\n"
             "sys.meta_path.insert(0, NoTorch())\n")
    code = block + "\n".join(imports) + "\nassert 'torch' not in sys.modules"
    result = subprocess.run([sys.executable, "-c", code], env={**os.environ, "PYTHONPATH": str(ROOT / "src")},
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
