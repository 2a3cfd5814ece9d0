"""The house rules, read from the code itself: imports point one way between the top-level
packages and between the rooms of irsim/, there is no import cycle, no first-party import
hides inside a function, modules and functions stay small, only the command line knows
flag names, and only irsim knows AWS member names. Each checker is also run on a small
made-up tree to show it can fail."""

from __future__ import annotations

import ast
import functools
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from botocore.model import ListShape, MapShape, Shape, StructureShape

from irsim.service.awsmodel import service_model

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("simulator", "pricing", "optimizer", "calibration", "autoscaling", "irsim")

#: Which top-level packages each may import (besides itself).
TOP_LEVEL_RULES = {
    "simulator": set(),
    "pricing": set(),
    "calibration": {"simulator"},
    "optimizer": {"simulator", "pricing"},
    # calibration: the one reader of CloudWatch exports (autoscaling reads Invocations curves with it)
    "autoscaling": {"simulator", "pricing", "optimizer", "calibration"},
    "irsim": {"simulator", "pricing", "calibration", "optimizer", "autoscaling"},
}
#: The rooms of irsim/ and which other rooms each may import. The leaf modules (argtypes, errors,
#: exitcodes, inputs) may be imported by every room; `irsim` itself is the package's face.
LEAVES = {"argtypes", "errors", "exitcodes", "inputs"}
ROOM_RULES = {
    "service": set(),
    "durable": {"service"},
    "present": {"service"},
    "planning": {"service", "present"},
    "boto3mode": {"service", "durable"},
    "wire": {"service", "durable"},
    "measure": {"service", "present"},
    "cli": {"service", "durable", "present", "planning", "boto3mode", "wire", "measure"},
    "__init__": {"service", "durable", "planning", "wire"},
    "__main__": {"cli"},
}
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60
MAX_PARAMETERS = 8  # more travel as a value object (RunSpec, RecommendOptions, Scenario, NewJob)
#: The functions allowed past MAX_FUNCTION_LINES or MAX_PARAMETERS, each with its reason.
EXEMPT = {
    "simulator.engine._requests": "the real-time engine's hot loop, plain and local on purpose: one frame, its "
                                  "state in local variables, no call per event that a split would add",
    "simulator.serverless.run": "the serverless engine's hot loop, kept plain and local like the real-time one",
    "simulator.simulation.simulate": "the convenience face: its keyword arguments are a RunSpec's fields",
    "simulator.simulation.simulate_serverless": "the convenience face: its keyword arguments are a serverless "
                                                "RunSpec's fields",
}
#: The packages (and rooms of irsim/) whose text must name domain fields, not command-line
#: flags: only irsim/cli knows flags (a library error carries a field, or takes the hint the
#: command line words, and irsim/cli/app.py words it as the flag).
FLAG_FREE = ("simulator", "pricing", "optimizer", "calibration", "autoscaling",
             "irsim/service", "irsim/durable", "irsim/present", "irsim/planning")
#: The packages that speak their own language, not the AWS API's: no AWS member name in their
#: code (docstrings and comments may name one to explain).
AWS_NAME_FREE = ("simulator", "optimizer", "calibration", "autoscaling", "pricing")
#: CloudWatch's metric names (ModelLatency_p95, ModelSetupTime_Average, ...): the data names of
#: the per-minute series the simulator reports, not API members, wherever they coincide.
CLOUDWATCH_NAMES = frozenset({"ModelLatency", "OverheadLatency", "InvocationsPerInstance", "MemoryUtilization",
                              "ModelSetupTime"})
#: Modules that read documents AWS wrote, a user's saved answers, by their members: the reason each may.
AWS_DOCUMENT_READERS = {
    "calibration.sources": "reads saved DescribeInferenceRecommendationsJob and ListInferenceRecommendationsJobSteps "
                           "answers to calibrate a profile",
    "calibration.cloudwatch": "reads CloudWatch's GetMetricStatistics and GetMetricData exports",
}
CAMEL_CASE = re.compile(r"^[A-Z][a-z0-9]+(?:[A-Z][a-z0-9]*)+$")
WORD = re.compile(r"[A-Za-z][A-Za-z0-9]*")


@dataclass(frozen=True)
class Import:
    source: str      # the importing module, dotted
    target: str      # the imported module, dotted (resolved to a module of the tree when possible)
    line: int
    in_function: bool


@functools.cache
def parsed(path: Path) -> tuple[str, ast.Module]:
    """A file's text and syntax tree, read once per test process (every checker walks every file)."""
    text = path.read_text()
    return text, ast.parse(text, str(path))


def modules(root: Path, packages: tuple[str, ...]) -> dict[str, Path]:
    """Dotted module name -> file, for every .py file of ``packages`` under ``root``."""
    found = {}
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            parts = list(path.relative_to(root).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found[".".join(parts)] = path
    return found


def _resolve(name: str, known: dict[str, Path]) -> str:
    """The longest known module that ``name`` starts with (``a.b.c`` -> ``a.b`` for a
    function ``c`` of module ``a.b``)."""
    parts = name.split(".")
    while parts:
        candidate = ".".join(parts)
        if candidate in known:
            return candidate
        parts.pop()
    return name


def imports(root: Path, packages: tuple[str, ...]) -> list[Import]:
    """Every first-party import of the tree, resolved to modules."""
    known = modules(root, packages)
    found = []
    for source, path in known.items():
        tree = parsed(path)[1]
        in_function: set[int] = set()
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                in_function.update(id(inner) for inner in ast.walk(node) if inner is not node)
        is_package = path.name == "__init__.py"
        for node in ast.walk(tree):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = source.split(".") if is_package else source.split(".")[:-1]
                    anchor = anchor[:len(anchor) - (node.level - 1)]
                    base = ".".join(anchor + ([base] if base else []))
                names = [f"{base}.{alias.name}" for alias in node.names]
            for name in names:
                if name.split(".")[0] in packages:
                    found.append(Import(source, _resolve(name, known), node.lineno, id(node) in in_function))
    return found


def _room(module: str) -> str | None:
    """The room of an irsim module: its sub-package, a leaf, or __init__/__main__."""
    parts = module.split(".")
    if parts[0] != "irsim":
        return None
    if len(parts) == 1:
        return "__init__"
    return parts[1]


def forbidden_arrows(found: list[Import]) -> list[str]:
    """Imports that break the top-level rule or the rooms rule."""
    problems = []
    for item in found:
        source_top, target_top = item.source.split(".")[0], item.target.split(".")[0]
        where = f"{item.source}:{item.line} imports {item.target}"
        if source_top != target_top and target_top not in TOP_LEVEL_RULES[source_top]:
            problems.append(f"{where} ({source_top} may import only {sorted(TOP_LEVEL_RULES[source_top])})")
            continue
        source_room, target_room = _room(item.source), _room(item.target)
        if source_top == target_top == "irsim" and source_room != target_room and target_room not in LEAVES:
            if source_room in LEAVES:
                problems.append(f"{where} (the leaf module irsim.{source_room} imports no other room)")
            elif target_room not in ROOM_RULES.get(source_room or "", set()):
                problems.append(f"{where} (irsim.{source_room} may import only "
                                f"{sorted(ROOM_RULES.get(source_room or '', set()) | LEAVES)})")
    return problems


def inner_imports(found: list[Import]) -> list[str]:
    """First-party imports inside functions (the usual way to hide a cycle)."""
    return [f"{i.source}:{i.line} imports {i.target} inside a function" for i in found if i.in_function]


def cycles(found: list[Import]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    graph: dict[str, set[str]] = {}
    for item in found:
        if item.source != item.target:
            graph.setdefault(item.source, set()).add(item.target)
            graph.setdefault(item.target, set())
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                components.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return components


def parameter_count(node: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    """Every parameter a caller can give (``self`` and ``cls`` not counted; ``*args`` and
    ``**kwargs`` one each)."""
    arguments = node.args
    names = [*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs]
    given = len(names) + (arguments.vararg is not None) + (arguments.kwarg is not None)
    return given - (bool(names) and names[0].arg in ("self", "cls"))


def oversized(root: Path, packages: tuple[str, ...], exempt: dict[str, str] | None = None) -> list[str]:
    """Modules over MAX_MODULE_LINES lines, and functions over MAX_FUNCTION_LINES lines or
    with more than MAX_PARAMETERS parameters unless ``exempt`` names them."""
    problems = []
    for module, path in modules(root, packages).items():
        text, tree = parsed(path)
        if text.count("\n") > MAX_MODULE_LINES:
            problems.append(f"{module}: {text.count(chr(10))} lines")
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and f"{module}.{node.name}" not in (
                    exempt or {}):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                if length > MAX_FUNCTION_LINES:
                    problems.append(f"{module}.{node.name}: {length} lines")
                if parameter_count(node) > MAX_PARAMETERS:
                    problems.append(f"{module}.{node.name}: {parameter_count(node)} parameters")
    return problems


FLAG = re.compile(r"""(?<![\w-])--[a-z][a-z0-9-]*""")


def flag_names(root: Path, packages: tuple[str, ...]) -> list[str]:
    """Command-line flags (``--name``) written in the library packages."""
    problems = []
    for module, path in modules(root, packages).items():
        for number, line in enumerate(parsed(path)[0].splitlines(), start=1):
            for flag in FLAG.findall(line):
                problems.append(f"{module}:{number}: {flag}")
    return problems


def _members(shape: Shape | None, seen: set[str]) -> Iterator[str]:
    """Every member name of ``shape`` and the shapes it holds, each shape once."""
    if shape is None or shape.name in seen:
        return
    seen.add(shape.name)
    if isinstance(shape, StructureShape):
        for name, member in shape.members.items():
            yield name
            yield from _members(member, seen)
    elif isinstance(shape, ListShape):
        yield from _members(shape.member, seen)
    elif isinstance(shape, MapShape):
        yield from _members(shape.value, seen)


def aws_member_names() -> frozenset[str]:
    """The CamelCase members (MaxInvocations, ModelLatencyThresholds, SpawnRate, ...) of the
    Inference Recommender operations irsim answers, in botocore's SageMaker model, less
    CloudWatch's metric names."""
    model, seen, names = service_model(), set(), set()
    for operation in model.operation_names:
        if "InferenceRecommendations" in operation or "ScalingConfigurationRecommendation" in operation:
            shapes = model.operation_model(operation)
            names.update(_members(shapes.input_shape, seen), _members(shapes.output_shape, seen))
    return frozenset(name for name in names if CAMEL_CASE.match(name)) - CLOUDWATCH_NAMES


def _explanations(tree: ast.Module) -> set[int]:
    """The string constants that explain or name Python names, not data: docstrings (of the
    module, a class or a function) and the names ``__all__`` lists."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                found.add(id(first.value))
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets):
            found.update(id(inner) for inner in ast.walk(node.value))
    return found


def aws_names(root: Path, packages: tuple[str, ...], members: frozenset[str],
              readers: frozenset[str] = frozenset()) -> list[str]:
    """AWS member names in the code of ``packages`` (outside the ``readers``): in strings (keys,
    messages, f-strings) and keyword arguments; docstrings and comments may name them. Python
    names (a class such as ``StoppingConditions``) are the package's own and not read."""
    problems: list[tuple[str, int, str]] = []
    for module, path in modules(root, packages).items():
        if module in readers:
            continue
        tree = parsed(path)[1]
        explanations = _explanations(tree)
        for node in ast.walk(tree):
            words: list[str] = []
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in explanations:
                words = WORD.findall(node.value)
            elif isinstance(node, ast.keyword) and node.arg:
                words = [node.arg]
            problems.extend((module, getattr(node, "lineno", 0), word) for word in words if word in members)
    return [f"{module}:{line}: {word}" for module, line, word in sorted(problems)]


# --- the project ----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def project_imports() -> list[Import]:
    return imports(ROOT, PACKAGES)


def test_imports_point_one_way(project_imports):
    assert forbidden_arrows(project_imports) == []


def test_no_import_cycle(project_imports):
    assert cycles(project_imports) == []


def test_no_first_party_import_inside_a_function(project_imports):
    assert inner_imports(project_imports) == []


def test_modules_and_functions_stay_small():
    assert oversized(ROOT, PACKAGES, EXEMPT) == []


def test_every_exemption_is_still_needed():
    """An exempt function that shrank (or went) leaves the list: exemptions do not outlive their reason."""
    assert {problem.split(":")[0] for problem in oversized(ROOT, PACKAGES)} == set(EXEMPT)


def test_only_the_command_line_names_flags():
    assert flag_names(ROOT, FLAG_FREE) == []


def test_only_irsim_names_aws_members():
    members = aws_member_names()
    assert {"MaxInvocations", "ModelLatencyThresholds", "SpawnRate", "MemorySizeInMB"} <= members
    assert aws_names(ROOT, AWS_NAME_FREE, members, frozenset(AWS_DOCUMENT_READERS)) == []


#: The only modules that import by name at run time: the package's lazy exports (PEP 562), the
#: command line's lazy table of commands, and the documents' codec (a tagged dataclass of irsim's
#: own packages). Anywhere else it would hide an import from these rules.
DYNAMIC_IMPORTERS = {"irsim", "irsim.cli.app", "irsim.service.documents"}


def test_imports_by_name_only_where_the_lazy_tables_are():
    found = {module for module, path in modules(ROOT, PACKAGES).items() if "import_module(" in path.read_text()}
    assert found <= DYNAMIC_IMPORTERS


# --- the checkers can fail --------------------------------------------------------------------

def _tree(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def test_checkers_catch_a_forbidden_arrow_a_cycle_and_a_hidden_import(tmp_path):
    _tree(tmp_path, {
        "simulator/__init__.py": "",
        "simulator/engine.py": "from simulator import stats\nimport optimizer.plan\n",
        "simulator/stats.py": "def f():\n    from simulator import engine\n",
        "optimizer/__init__.py": "",
        "optimizer/plan.py": "",
        "irsim/__init__.py": "",
        "irsim/service/__init__.py": "",
        "irsim/service/job.py": "from irsim.cli import app\n",
        "irsim/cli/__init__.py": "",
        "irsim/cli/app.py": "from irsim.service import job\n",
    })
    found = imports(tmp_path, ("simulator", "optimizer", "irsim"))
    arrows = forbidden_arrows(found)
    assert any("simulator.engine" in a and "optimizer.plan" in a for a in arrows)
    assert any("irsim.service.job" in a and "irsim.cli.app" in a for a in arrows)
    assert sorted(map(tuple, cycles(found))) == [("irsim.cli.app", "irsim.service.job"),
                                                 ("simulator.engine", "simulator.stats")]
    assert inner_imports(found) == ["simulator.stats:2 imports simulator.engine inside a function"]


def test_checkers_catch_size_and_flags(tmp_path):
    body = "".join(f"    x{i} = {i}\n" for i in range(MAX_FUNCTION_LINES))
    many = ", ".join(f"p{i}" for i in range(MAX_PARAMETERS))
    _tree(tmp_path, {"pricing/__init__.py": "", "pricing/big.py": f"def long():\n{body}",
                     "pricing/wide.py": f"def wide({many}, *, extra):\n    pass\n\n\nclass C:\n"
                                        f"    def method(self, {many}):\n        pass\n",
                     "pricing/flags.py": 'MESSAGE = "use --price-list FILE"\nRANGE = "1--3"\n',
                     "irsim/__init__.py": "", "irsim/durable/__init__.py": "",
                     "irsim/durable/store.py": 'ADVICE = "set IRSIM_HOME or --home"\n',
                     "irsim/present/__init__.py": "", "irsim/present/tables.py": '"""see --json"""\nLINE = "---"\n',
                     "irsim/cli/__init__.py": "", "irsim/cli/app.py": 'FLAG = "--home"\n'})
    assert oversized(tmp_path, ("pricing",)) == [f"pricing.big.long: {MAX_FUNCTION_LINES + 1} lines",
                                                 f"pricing.wide.wide: {MAX_PARAMETERS + 1} parameters"]
    assert oversized(tmp_path, ("pricing",), {"pricing.big.long": "a reason"}) == [
        f"pricing.wide.wide: {MAX_PARAMETERS + 1} parameters"]
    assert flag_names(tmp_path, ("pricing", "irsim/durable", "irsim/present")) == [
        "pricing.flags:1: --price-list", "irsim.durable.store:1: --home", "irsim.present.tables:1: --json"]


def test_checker_catches_aws_member_names_in_code_not_in_docstrings(tmp_path):
    _tree(tmp_path, {"simulator/__init__.py": "", "simulator/stop.py": (
        '"""Stops at MaxInvocations (a docstring may explain)."""\n'
        "# and so may a comment: SpawnRate\n"
        "def check(n):\n"
        '    """Refuses n < 1, as MaxInvocations would."""\n'
        '    raise ValueError("MaxInvocations", f"{n}: see SpawnRate")\n'
        "def build(make):\n"
        "    return make(SpawnRate=1, max_invocations=2)\n"
        'COLUMN = "ModelLatency_p95"\n'
        '__all__ = ["MaxInvocations"]\n'), "simulator/reader.py": 'KEY = "SpawnRate"\n'})
    members = frozenset({"MaxInvocations", "SpawnRate"})
    assert aws_names(tmp_path, ("simulator",), members, frozenset({"simulator.reader"})) == [
        "simulator.stop:5: MaxInvocations", "simulator.stop:5: SpawnRate", "simulator.stop:7: SpawnRate"]
    assert aws_names(tmp_path, ("simulator",), members) != aws_names(tmp_path, ("simulator",), members,
                                                                     frozenset({"simulator.reader"}))
