"""The package reads top-down: each package names its API, no module imports
another in a cycle (function-level imports count), and no layer imports the
applications above it."""

import ast
import importlib
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "tokencom_sdr"
PACKAGES = sorted(".".join(p.parent.relative_to(PACKAGE.parent).parts)
                  for p in PACKAGE.rglob("__init__.py"))
#: Layers that must not import the applications, evaluations, trainers or CLI.
LOWER = ("tokens", "context", "compression", "link", "phy", "channel", "radio", "gr", "data",
         "metrics")
UPPER = ("app", "experiments", "training", "cli")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path, modules):
    """Every tokencom_sdr module a file imports, at any depth of its code
    (``from package import module`` counts as importing the module)."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.startswith("tokencom_sdr"):
                for alias in node.names:
                    submodule = f"{target}.{alias.name}"
                    yield submodule if submodule in modules else target
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("tokencom_sdr"):
                    yield alias.name


@pytest.fixture(scope="module")
def graph():
    files = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    return {name: {t for t in imports_of(path, files) if t in files and t != name}
            for name, path in files.items()}


@pytest.mark.timeout(60)
@pytest.mark.parametrize("package", PACKAGES)
def test_every_package_names_its_api(package):
    module = importlib.import_module(package)
    names = getattr(module, "__all__", None)
    assert names, f"{package} has no __all__"
    for name in names:
        assert getattr(module, name) is not None, f"{package}.{name}"


@pytest.mark.timeout(30)
def test_no_import_cycles(graph):
    """Tarjan's strongly connected components over module imports."""
    index, low, stack, on_stack, cycles = {}, {}, [], set(), []

    def visit(node):
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph[node]:
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for node in graph:
        if node not in index:
            visit(node)
    assert cycles == []


@pytest.mark.timeout(30)
def test_layers_do_not_import_the_applications(graph):
    upward = sorted((a, b) for a, targets in graph.items() for b in targets
                    if a.split(".")[1:2] and a.split(".")[1] in LOWER
                    and b.split(".")[1:2] and b.split(".")[1] in UPPER)
    assert upward == []


@pytest.mark.timeout(30)
def test_no_private_name_crosses_modules():
    """``from x import _name`` across modules means the name is not private."""
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and (node.level or (node.module or "").startswith(
                    "tokencom_sdr")):
                offenders += [f"{path.name}: {a.name}" for a in node.names
                              if a.name.startswith("_") and not a.name.startswith("__")]
    assert offenders == []


@pytest.mark.timeout(60)
def test_building_the_command_line_imports_no_torch():
    """Every ``tokencom`` command builds the whole parser first; torch alone
    takes about 2 s to import, so a bad radio profile could not be refused
    within issue 16's 2 s if any command's options pulled it in."""
    import subprocess
    import sys

    probe = ("import sys; from tokencom_sdr.cli.main import build_parser; build_parser(); "
             "print(sorted(m for m in ('torch', 'transformers') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                            timeout=50)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "[]", result.stdout


@pytest.mark.timeout(180)
def test_trainers_run_on_a_machine_without_gnu_radio(tmp_path):
    """A GPU machine has torch but no GNU Radio: ``python -m
    tokencom_sdr.cli.train`` (what scripts/gpu_train.sh runs) must train and
    write a loadable checkpoint with every ``gnuradio`` import refused."""
    import subprocess
    import sys

    from tokencom_sdr.context.text_model import load_text_context_model
    from tokencom_sdr.data.corpus import CorpusUnavailableError, fetch_corpus

    try:
        fetch_corpus()
    except CorpusUnavailableError as error:
        pytest.skip(f"corpus not available offline: {error}")
    out = tmp_path / "tiny.safetensors"
    refuse_gnu_radio = (
        "import sys\n"
        "class Refuse:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] == 'gnuradio':\n"
        "            raise ImportError('no GNU Radio on this machine')\n"
        "sys.meta_path.insert(0, Refuse())\n"
        "import runpy\n"
        "runpy.run_module('tokencom_sdr.cli.train', run_name='__main__')\n")
    result = subprocess.run(
        [sys.executable, "-c", refuse_gnu_radio, "text-context", "--tiny", "--steps", "3",
         "--out", str(out)], capture_output=True, text=True, timeout=170)
    assert result.returncode == 0, result.stderr[-2000:]
    model = load_text_context_model(out)
    assert model.metadata["step"] == "3" and model.metadata["final"] == "True"
