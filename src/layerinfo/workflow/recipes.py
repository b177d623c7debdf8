"""Strict checks of the Apptainer recipes in containers/ and their hash-locked requirements.

What can be checked without building is checked here, strictly (a lenient parser accepts
misspelt sections): every stage recipe bootstraps from the common base as a ``localimage``
(``From: {{ base }}``, a build argument with a default), every base recipe is a registry image
pinned by digest or a debootstrap of a named Debian release (:func:`check_base_recipe`); a stage
has the sections %files, %post, %environment, %test and %labels
and no unknown one, copies its lock file in %files, installs only from that lock with
``--no-deps --require-hashes`` and runs ``pip check``; every lock pins each package with
``==`` and at least one SHA-256, agrees with requirements.txt on every package both name, and
holds every package of the stage's ``.in`` list.

Usage: ``python -m layerinfo.workflow.recipes [containers/*.def]`` prints one line per problem and exits
1 if there is any.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

REQUIRED_SECTIONS = ("files", "post", "environment", "test", "labels")
KNOWN_SECTIONS = {*REQUIRED_SECTIONS, "help", "runscript", "setup", "startscript", "arguments"}
_DIGEST = re.compile(r"\S+@sha256:[0-9a-f]{64}")
_PIN = re.compile(r"([A-Za-z0-9][A-Za-z0-9_.\-]*)==([^\s;\\]+)")
_HASH = re.compile(r"--hash=sha256:[0-9a-f]{64}")


def _canonical(name):
    return re.sub(r"[-_.]+", "-", name).lower()


def read_pins(path):
    """``{canonical name: version}`` of a requirements file of exact pins (``name==version``).

    Parameters
    ----------
    path : path-like
        A requirements file; comments and blank lines are skipped.

    Raises
    ------
    ValueError
        If a line is not an exact pin (the message names the file and line).
    """
    pins = {}
    for number, line in enumerate(Path(path).read_text().splitlines(), 1):
        line = line.split("#")[0].strip()
        if not line:
            continue
        match = _PIN.fullmatch(line)
        if not match:
            raise ValueError(f"{path}:{number}: '{line}' is not an exact pin 'name==version'")
        pins[_canonical(match[1])] = match[2]
    return pins


def parse_recipe(text):
    """Split an Apptainer definition into its header and its sections.

    Returns
    -------
    header : dict
        ``{keyword: value}`` of the lines before the first section (``Bootstrap``, ``From``).
    sections : dict
        ``{name without %: [lines]}``, blank and comment lines dropped.
    problems : list of str
        Header lines that are not ``Keyword: value`` and repeated sections.
    """
    header, sections, problems = {}, {}, []
    current = None
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if raw.startswith("%"):
            current = line[1:].split()[0]
            if current in sections:
                problems.append(f"line {number}: section %{current} appears twice")
            sections[current] = []
        elif current is None:
            match = re.fullmatch(r"(\w+):\s*(\S.*)", line)
            if match:
                header[match[1]] = match[2].strip()
            else:
                problems.append(f"line {number}: '{line}' is not a header 'Keyword: value'")
        else:
            sections[current].append(line)
    return header, sections, problems


def check_lock(path, requirements, stage_packages=()):
    """Problems of a hash-locked requirements file (an empty list when it is sound).

    Parameters
    ----------
    path : path-like
        The lock (``uv pip compile --generate-hashes`` format: ``name==version \\`` followed by
        ``--hash=sha256:...`` lines).
    requirements : dict
        The project's pins, ``{canonical name: version}`` (see :func:`read_pins`).
    stage_packages : iterable of str
        Packages the stage needs; each must be in the lock.
    """
    problems = []
    entries = {}
    name = None
    for number, raw in enumerate(Path(path).read_text().splitlines(), 1):
        line = raw.split("#")[0].strip()
        if not line:
            continue
        if line.startswith("--hash="):
            if name is None or not _HASH.fullmatch(line.rstrip(" \\")):
                problems.append(f"{path}:{number}: malformed hash line '{line}'")
            else:
                entries[name][1] += 1
            continue
        match = _PIN.match(line)
        if not match:
            problems.append(f"{path}:{number}: '{line}' is not pinned with == and hashes")
            name = None
            continue
        name = _canonical(match[1])
        entries[name] = [match[2], 0]
    for name, (version, hashes) in entries.items():
        if hashes == 0:
            problems.append(f"{path}: {name}=={version} has no --hash=sha256 line")
        if name in requirements and requirements[name] != version:
            problems.append(f"{path}: {name}=={version} but requirements.txt pins {requirements[name]}")
    for package in stage_packages:
        if _canonical(package) not in entries:
            problems.append(f"{path}: {package} (listed for the stage) is missing from the lock")
    return problems


def check_recipe(path, root=None, requirements=None):
    """Problems of one Apptainer definition and of the lock it installs (empty when sound).

    Parameters
    ----------
    path : path-like
        ``containers/<stage>.def``.
    root : path-like, optional
        Directory the image is built from (sources in %files are relative to it); defaults to
        the parent of the recipe's directory.
    requirements : path-like, optional
        The project's pins; defaults to ``<root>/requirements.txt``.
    """
    path = Path(path)
    root = Path(root) if root is not None else path.resolve().parent.parent
    pins = read_pins(requirements if requirements is not None else root / "requirements.txt")
    header, sections, problems = parse_recipe(path.read_text())
    problems = [f"{path}: {p}" for p in problems]
    # A stage builds on the common base (containers/base/*.def) given as a build argument, so the
    # stage recipe is the same whichever way the base was made.
    if header.get("Bootstrap") != "localimage":
        problems.append(f"{path}: 'Bootstrap: localimage' is required (found {header.get('Bootstrap')!r}); "
                        "a stage builds on containers/base.sif")
    if header.get("From") != "{{ base }}":
        problems.append(f"{path}: 'From: {{{{ base }}}}' is required (found {header.get('From')!r})")
    if not any(line.startswith("base=") for line in sections.get("arguments", [])):
        problems.append(f"{path}: %arguments must give the base a default (base=containers/base.sif)")
    problems += _section_problems(path, sections, REQUIRED_SECTIONS)
    copied = {}
    for line in sections.get("files", []):
        source, _, destination = line.partition(" ")
        destination = destination.strip() or source
        copied[destination] = root / source
        if not (root / source).exists():
            problems.append(f"{path}: %files source {source} does not exist under {root}")
    post = sections.get("post", [])
    installs = [line for line in post if re.search(r"\bpip3?\s+install\b", line)]
    if not installs:
        problems.append(f"{path}: %post installs nothing with pip")
    for line in installs:
        flags = line.split()
        for flag in ("--no-deps", "--require-hashes"):
            if flag not in flags:
                problems.append(f"{path}: '{line}' lacks {flag}")
        lock = flags[flags.index("-r") + 1] if "-r" in flags[:-1] else None
        if lock is None:
            problems.append(f"{path}: '{line}' does not install from a lock (-r FILE)")
        elif lock not in copied:
            problems.append(f"{path}: the lock {lock} is not copied in by %files")
        elif copied[lock].exists():
            stage = copied[lock].with_suffix(".in")
            packages = []
            if stage.exists():
                packages = [p.strip() for p in stage.read_text().splitlines()
                            if p.strip() and not p.startswith("#")]
            problems += check_lock(copied[lock], pins, packages)
    if not any(re.search(r"\bpip3?\s+check\b", line) for line in post):
        problems.append(f"{path}: %post does not run 'pip check'")
    return problems


def _section_problems(path, sections, required) -> list[str]:
    """Unknown sections, and required ones missing or empty, of a parsed recipe."""
    problems = [f"{path}: unknown section %{name}; allowed: " + ", ".join(f"%{s}" for s in sorted(KNOWN_SECTIONS))
                for name in sections if name not in KNOWN_SECTIONS]
    return problems + [f"{path}: section %{name} is missing or empty" for name in required if not sections.get(name)]


def check_base_recipe(path):
    """Problems of a base recipe (``containers/base/*.def``): a registry image pinned by digest
    (``Bootstrap: docker``) or Debian's archive (``Bootstrap: debootstrap`` with ``OSVersion``),
    with a ``%test`` and ``%labels``."""
    path = Path(path)
    header, sections, problems = parse_recipe(path.read_text())
    problems = [f"{path}: {p}" for p in problems]
    bootstrap = header.get("Bootstrap")
    if bootstrap == "docker":
        if not _DIGEST.fullmatch(header.get("From", "")):
            problems.append(f"{path}: 'From:' must pin the base by digest (image@sha256:<64 hex>), "
                            f"found {header.get('From')!r}")
    elif bootstrap == "debootstrap":
        if not header.get("OSVersion"):
            problems.append(f"{path}: 'OSVersion:' must name the Debian release")
    else:
        problems.append(f"{path}: a base is 'Bootstrap: docker' (by digest) or 'Bootstrap: debootstrap' "
                        f"(found {bootstrap!r})")
    return problems + _section_problems(path, sections, ("test", "labels"))


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    recipes = [Path(a) for a in argv] or sorted(Path("containers").glob("*.def")) + sorted(
        Path("containers/base").glob("*.def"))
    if not recipes:
        print("no recipes given and none in containers/", file=sys.stderr)
        return 1
    problems = [p for recipe in recipes
                for p in (check_base_recipe(recipe) if recipe.parent.name == "base" else check_recipe(recipe))]
    for problem in problems:
        print(problem)
    if not problems:
        print(f"{len(recipes)} recipe(s) and their locks pass: " + ", ".join(map(str, recipes)))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
