"""The documentation against the repository: links, file paths, config keys, generated tables.

What is checked, in README.md, CHANGELOG.md and every Markdown page under docs/, benchmarks/,
containers/ and config/:

* every relative link ``[text](path#anchor)`` names an existing file, and an anchor into a
  Markdown page names one of its headings (GitHub's slugs);
* every file path named in inline code (```rules/common.smk```) exists, relative to the
  repository root or to the page, when it starts with a folder of either (or a near miss of one,
  ```doc/usage.md```); bare names (```nets.py```) and paths elsewhere (```path/to/nets.py```) may be
  the user's files and are not checked. Outputs of a run (``results/``, ``logs/``, ``resources/``,
  ``runs/``, ``.venv/``) and paths with placeholders (``{name}``, ``<stage>``, ``*``, ``…``) are
  not files of the repository and are skipped. Inside fenced code, words that start with a
  top-level folder of the repository (``config/reduced.yaml``) are checked too;
* every config key named in inline code as a dotted name starting with a top-level section of
  the schema (```information_plane.dataset.split```, ```initialisations.<name>.gain```,
  ```runtime.device.estimate```) exists in ``schemas/config.schema.yaml``; ``<...>`` stands for a
  user-chosen name where the schema allows any;
* every generated claims block (``<!-- claims-table: CSV -->`` or ``claims-summary``) equals what
  ``python -m layerinfo.claims`` prints from the stored CSV it names, and the page cites that
  CSV's config label (file name and hash);
* config/README.md's key tables equal what ``python -m layerinfo.workflow.schemadoc`` generates
  from the schema;
* docs/rulegraph.svg (``make rulegraph``) shows every rule of the workflow.
"""

import difflib
import re
import subprocess
from pathlib import Path

import pytest
import yaml

from layerinfo.claims import claims_markdown, claims_summary, read_claims, update_generated_blocks
from layerinfo.workflow import schemadoc

ROOT = Path(__file__).resolve().parents[2]
SOURCE_SUFFIXES = (".py", ".md", ".yaml", ".yml", ".smk", ".def", ".sh", ".cff", ".toml", ".rst", ".txt",
                   ".in", ".lock", ".svg", ".cfg")
OUTPUT_SUFFIXES = (".csv", ".png", ".h5", ".html", ".npz", ".pt", ".tsv", ".sif", ".log", ".gz", ".mat")
OUTPUT_PREFIXES = ("results/", "logs/", "resources/", "runs/", ".venv", ".snakemake", "benchmarks/<")
PLACEHOLDER = re.compile(r"[{}<>*…]|\.\.\.")
FENCE = re.compile(r"^```.*?^```[ \t]*$", re.M | re.S)
INLINE_CODE = re.compile(r"`([^`\n]+)`")
LINK = re.compile(r"(?<!!)\[[^\]\n]*\]\(([^)\s]+)\)|!\[[^\]\n]*\]\(([^)\s]+)\)")
HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$", re.M)
PATHLIKE = re.compile(r"^[A-Za-z0-9_.][\w.\-/]*$")


def doc_files(root=ROOT):
    """The Markdown pages the check covers."""
    files = [root / "README.md", root / "CHANGELOG.md"]
    for folder in ("docs", "benchmarks", "containers", "config"):
        files += sorted((root / folder).rglob("*.md"))
    return [f for f in files if f.is_file()]


def split_fences(text):
    """(prose, fenced code): the text with fenced blocks blanked out (line numbers kept), and
    the fenced blocks' text."""
    fenced = []

    def blank(match):
        fenced.append(match.group(0))
        return "\n" * match.group(0).count("\n")

    return FENCE.sub(blank, text), "\n".join(fenced)


def slug(heading):
    """GitHub's anchor of a heading: lower case, markup and punctuation dropped, spaces to '-'."""
    text = re.sub(r"`|\*\*|\*|_(?=\W)|(?<=\W)_", "", heading.strip()).lower()
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(page):
    prose, _ = split_fences(page.read_text(encoding="utf-8"))
    return {slug(h) for h in HEADING.findall(prose)}


def line_of(text, index):
    return text.count("\n", 0, index) + 1


def link_problems(page, root=ROOT):
    text = page.read_text(encoding="utf-8")
    prose, _ = split_fences(text)
    problems = []
    for match in LINK.finditer(prose):
        target = match.group(1) or match.group(2)
        if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # http:, https:, mailto:
            continue
        path, _, anchor = target.partition("#")
        where = f"{page.relative_to(root)}:{line_of(prose, match.start())}"
        resolved = (page.parent / path).resolve() if path else page
        if not resolved.exists():
            problems.append(f"{where}: link to {target!r}: no such file")
        elif anchor and resolved.suffix == ".md" and anchor not in anchors(resolved):
            problems.append(f"{where}: link to {target!r}: no heading with that anchor in {path or 'this page'}")
    return problems


def tracked_names(root=ROOT):
    out = subprocess.run(["git", "ls-files"], cwd=root, capture_output=True, text=True, check=False).stdout
    files = out.split()
    return {Path(f).name for f in files} | {p for f in files for p in _parents(f)}


def _parents(path):
    parts = Path(path).parts
    return {"/".join(parts[:i]) for i in range(1, len(parts))}


def _is_repo_path(token, page, root, names):
    token = token.rstrip("/")
    for base in (root, page.parent):
        candidate = (base / token).resolve()
        if candidate.exists():
            return True
    return "/" not in token and token in names


def path_candidates(page):
    """File paths named by the page: inline code that looks like a path, and words in fenced
    code that start with a top-level folder of the repository."""
    text = page.read_text(encoding="utf-8")
    prose, fenced = split_fences(text)
    found = []
    for match in INLINE_CODE.finditer(prose):
        token = match.group(1).strip()
        if not PATHLIKE.match(token) or not re.search(r"[A-Za-z]", token):
            continue
        if "/" not in token and not token.endswith(SOURCE_SUFFIXES):
            continue
        found.append((token, line_of(prose, match.start())))
    folders = {p.name for p in ROOT.iterdir() if p.is_dir() and not p.name.startswith(".")}
    folders -= {"results", "logs", "resources", "runs"}
    for word in re.findall(r"[\w.\-/]+", fenced):
        if "/" in word and word.split("/")[0] in folders:
            found.append((word, None))
    return found


def ignored(tokens, root):
    """The tokens git ignores in ``root`` (run and build outputs: results/, containers/*.sif, ...);
    none outside a git repository."""
    out = subprocess.run(["git", "-C", str(root), "check-ignore", "--no-index", "--stdin"], input="\n".join(tokens),
                         capture_output=True, text=True, check=False)
    return set(out.stdout.split()) if out.returncode in (0, 1) else set()


def path_problems(page, root=ROOT, names=None):
    names = tracked_names(root) if names is None else names
    top = {p.name for p in root.iterdir()} | {p.name for p in page.parent.iterdir()}
    candidates = []
    for token, line in path_candidates(page):
        if token.startswith(OUTPUT_PREFIXES) or PLACEHOLDER.search(token) or token.startswith(("/", "~")):
            continue
        if token.startswith("../"):
            if not (root / token).resolve().is_relative_to(root.resolve()):
                continue  # a file outside the repository, named as optional (e.g. ../shared/...)
        elif "/" not in token:
            continue  # a bare name (`nets.py`): a user's file as often as one of the repository
        elif not difflib.get_close_matches(token.split("/")[0], top, n=1, cutoff=0.75):
            continue  # not under a folder of the repository: path/to/your.py, HDF5 groups (probe/labels)
        candidates.append((token, line))
    skip = ignored([t for t, _ in candidates], root)
    problems = []
    for token, line in candidates:
        if token in skip:
            continue
        if not _is_repo_path(token, page, root, names):
            where = f"{page.relative_to(root)}" + (f":{line}" if line else " (code block)")
            problems.append(f"{where}: names {token!r}, which is not a file or folder of the repository")
    return problems


def load_schema(root=ROOT):
    with open(root / "schemas" / "config.schema.yaml", encoding="utf-8") as f:
        return yaml.safe_load(f)


_resolve = schemadoc.schema_branches  # the schema nodes a node stands for: $ref followed, branches listed


def key_exists(dotted, schema):
    """Whether the dotted config key exists in the schema (``<name>`` for any user-chosen name,
    ``[i]`` for a list element)."""
    nodes = _resolve(schema, schema)
    for segment in dotted.split("."):
        name, indexed = re.subn(r"\[\d+\]$", "", segment)
        following = []
        for node in nodes:
            properties = node.get("properties", {})
            if name in properties:
                following += _resolve(properties[name], schema)
            elif name.startswith("<") and properties:  # a placeholder for any of the listed names
                following += [n for value in properties.values() for n in _resolve(value, schema)]
            if name not in properties and isinstance(node.get("additionalProperties"), dict):
                following += _resolve(node["additionalProperties"], schema)
        if indexed:
            following = [n for node in following for n in _resolve(node.get("items", {}), schema)]
        if not following:
            return False
        nodes = following
    return True


def config_key_candidates(page, schema):
    sections = set(schema["properties"])
    prose, _ = split_fences(page.read_text(encoding="utf-8"))
    found = []
    for match in INLINE_CODE.finditer(prose):
        token = match.group(1).strip()
        if token.endswith(OUTPUT_SUFFIXES + SOURCE_SUFFIXES):
            continue  # a file name such as relevance.csv
        if re.fullmatch(r"[a-z_]+(\.(<[\w ]+>|[A-Za-z_0-9]+(\[\d+\])?))+", token) and token.split(".")[0] in sections:
            found.append((token, line_of(prose, match.start())))
    return found


def config_key_problems(page, root=ROOT, schema=None):
    schema = load_schema(root) if schema is None else schema
    return [f"{page.relative_to(root)}:{line}: names config key {token!r}, which schemas/config.schema.yaml does not have"
            for token, line in config_key_candidates(page, schema) if not key_exists(token, schema)]


def claims_block_problems(page, root=ROOT):
    text = page.read_text(encoding="utf-8")
    problems = []
    try:
        expected = update_generated_blocks(text, root)
    except ValueError as error:
        return [f"{page.relative_to(root)}: {error}"]
    if expected != text:
        problems.append(f"{page.relative_to(root)}: a generated claims block differs from its CSV; "
                        "regenerate with `make claims-docs`")
    for kind, path in re.findall(r"^<!-- (claims-table|claims-summary): (\S+) -->$", text, re.M):
        for label in sorted(set(read_claims([root / path])["config"].astype(str))):
            if label not in text:
                problems.append(f"{page.relative_to(root)}: the {kind} of {path} does not cite its run, {label!r}")
    return problems


# --- the repository's documentation ------------------------------------------------------------

PAGES = doc_files()


def test_pages_found():
    names = {p.relative_to(ROOT).as_posix() for p in PAGES}
    for page in ("README.md", "docs/usage.md", "docs/output.md", "docs/hpc.md", "docs/developer.md",
                 "docs/claims.md", "docs/studies/s1.md", "docs/studies/s2.md", "docs/studies/s3.md",
                 "docs/studies/s4.md", "benchmarks/README.md", "CHANGELOG.md"):
        assert page in names


def test_readme_is_short():
    assert len((ROOT / "README.md").read_text(encoding="utf-8").splitlines()) <= 200


def test_links_resolve():
    problems = [p for page in PAGES for p in link_problems(page)]
    assert not problems, "\n".join(problems)


def test_named_paths_exist():
    names = tracked_names()
    problems = [p for page in PAGES for p in path_problems(page, names=names)]
    assert not problems, "\n".join(problems)


def test_config_keys_exist():
    schema = load_schema()
    problems = [p for page in PAGES for p in config_key_problems(page, schema=schema)]
    assert not problems, "\n".join(problems)


def test_generated_claims_blocks_match_their_csv():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "<!-- claims-summary: " in readme
    assert "<!-- claims-table: " in (ROOT / "docs" / "claims.md").read_text(encoding="utf-8")
    problems = [p for page in PAGES for p in claims_block_problems(page)]
    assert not problems, "\n".join(problems)


def test_config_key_tables_match_the_schema():
    text = (ROOT / "config" / "README.md").read_text(encoding="utf-8")
    assert "<!-- config-keys: schemas/config.schema.yaml -->" in text
    assert schemadoc.update_blocks(text, ROOT) == text, "config/README.md's key tables differ from the schema: run `make config-docs`"


def test_config_key_tables_name_every_key_once():
    schema = load_schema()
    keys = [k for section in schemadoc.rows(schema).values() for k, *_ in section]
    assert len(keys) == len(set(keys))
    assert all(key_exists(k, schema) for k in keys)
    # hand-checked entries: a plain key, a key under a user-chosen name, a key of an if/then branch
    table = dict((k, (t, d)) for section in schemadoc.rows(schema).values() for k, t, d, _ in section)
    assert table["information_plane.dataset.split"] == ("one of `random`, `reference`", '"random"')
    assert table["initialisations.<name>.gain"][0].startswith("number")
    assert "information_plane.estimators.<name>.n_bins" in table


def test_rulegraph_shows_every_rule():
    rules = set()
    for smk in [ROOT / "Snakefile", *sorted((ROOT / "rules").glob("*.smk"))]:
        rules |= set(re.findall(r"^rule (\w+):", smk.read_text(encoding="utf-8"), re.M))
    svg = (ROOT / "docs" / "rulegraph.svg").read_text(encoding="utf-8")
    shown = set(re.findall(r">(\w+)</text>", svg))
    assert rules - shown == set(), f"docs/rulegraph.svg lacks {sorted(rules - shown)}: run `make rulegraph`"


def test_citation_names_the_four_studies():
    citation = yaml.safe_load((ROOT / "CITATION.cff").read_text(encoding="utf-8"))
    assert citation["cff-version"] == "1.2.0" and citation["license"] == "MIT"
    ids = {i["value"] for ref in citation["references"] for i in ref.get("identifiers", [])}
    assert ids == {"arXiv:1710.11324", "arXiv:1902.09037", "arXiv:2212.01744", "arXiv:2406.16689"}
    assert (ROOT / "LICENSE").read_text(encoding="utf-8").startswith("MIT License")


# --- the check itself, on planted defects ------------------------------------------------------

@pytest.fixture
def repo(tmp_path):
    """A small repository: a page, a target page with a heading, the real schema."""
    (tmp_path / "docs").mkdir()
    (tmp_path / "schemas").mkdir()
    (tmp_path / "schemas" / "config.schema.yaml").write_text(
        (ROOT / "schemas" / "config.schema.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    (tmp_path / "docs" / "usage.md").write_text("# Usage\n\n## Resume and unlock\n", encoding="utf-8")
    return tmp_path


def test_planted_broken_link_is_found(repo):
    page = repo / "README.md"
    page.write_text("[usage](docs/usage.md), [resume](docs/usage.md#resume-and-unlock)\n", encoding="utf-8")
    assert link_problems(page, repo) == []
    page.write_text("[usage](docs/usge.md) and [resume](docs/usage.md#resume)\n", encoding="utf-8")
    problems = link_problems(page, repo)
    assert len(problems) == 2
    assert "docs/usge.md" in problems[0] and "no such file" in problems[0]
    assert "#resume" in problems[1] and "anchor" in problems[1]


def test_planted_missing_path_is_found(repo):
    page = repo / "docs" / "usage.md"
    page.write_text("# Usage\n\nSee `docs/usage.md`, `results/tables/x.csv` and `schemas/{name}.yaml`.\n",
                    encoding="utf-8")
    assert path_problems(page, repo, names=set()) == []
    page.write_text("# Usage\n\nSee `docs/usgae.md`, `doc/usage.md` and `path/to/your.py`.\n\n"
                    "```sh\nbash schemas/missing.sh\n```\n", encoding="utf-8")
    problems = path_problems(page, repo, names=set())
    assert [p.split(": names ")[1].split(",")[0] for p in problems] == [
        "'docs/usgae.md'", "'doc/usage.md'", "'schemas/missing.sh'"]


def test_planted_unknown_config_key_is_found(repo):
    page = repo / "README.md"
    page.write_text("`information_plane.dataset.split`, `initialisations.<name>.gain`, "
                    "`runtime.device.estimate`, `information_plane.experiments.main.activations[1]`\n",
                    encoding="utf-8")
    assert config_key_problems(page, repo) == []
    page.write_text("Set `information_plane.dataset.splitt` and `runtime.device.gpu`.\n", encoding="utf-8")
    problems = config_key_problems(page, repo)
    assert len(problems) == 2
    assert "'information_plane.dataset.splitt'" in problems[0] and "'runtime.device.gpu'" in problems[1]


def test_planted_stale_claims_block_is_found(repo):
    csv = repo / "claims.csv"
    csv.write_text(
        "study,claim,statement,statistic,value,ci_low,ci_high,criterion,verdict,n,config,figure\n"
        "relevance,s1_a,x,y,0.5,,,value > 0,reproduced,3,my.yaml@0123456789ab,\n"
        "coding,s4_b,x,y,0.1,0.0,0.2,value > 0.5,not reproduced,2,my.yaml@0123456789ab,\n",
        encoding="utf-8")
    frame = read_claims([csv])
    summary = claims_summary(frame)
    assert summary.splitlines()[2:] == ["| S1 relevance | 1 | 1 | 0 | 0 |", "| S4 coding | 1 | 0 | 1 | 0 |"]
    page = repo / "README.md"
    good = f"Run `my.yaml@0123456789ab`.\n<!-- claims-summary: claims.csv -->\n{summary}<!-- end claims-summary -->\n"
    page.write_text(good, encoding="utf-8")
    assert claims_block_problems(page, repo) == []
    page.write_text(good.replace("| 1 | 1 | 0 | 0 |", "| 1 | 0 | 0 | 1 |"), encoding="utf-8")
    assert "differs from its CSV" in claims_block_problems(page, repo)[0]
    page.write_text(good.replace("Run `my.yaml@0123456789ab`.", "Run of another config."), encoding="utf-8")
    assert "does not cite its run" in claims_block_problems(page, repo)[0]
    table = f"<!-- claims-table: claims.csv -->\n{claims_markdown(frame)}<!-- end claims-table -->\n"
    assert update_generated_blocks(table.replace("0.5", "0.7"), repo) == table
