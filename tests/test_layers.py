"""The layers of the code: imports point down only (DESIGN.md, "Layers").

Every ``import`` of the project's own modules, at module level or inside a function, is
read from the source; a module may import its own layer or a lower one. ``data`` stands
beside the blueprint core and reads only the bottom layer; the package face
(``builder/__init__.py``) is for users and the layers above the core.
"""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

#: Top-level module or package -> its layer (higher may import lower or equal).
LAYERS = {
    "builder.errors": 0, "builder.text": 0, "builder.checks": 0, "builder.version": 0,
    "builder.dsl": 1, "builder.keras_layers": 1, "builder.regnet_rule": 1,
    "builder.ops": 2, "builder.blocks": 2,
    "builder.graph": 3,
    "builder.analysis": 4, "builder.compiler": 4, "builder.serialize": 4,
    "builder.registry": 4, "builder.summary": 4, "builder.diagram": 4,
    "builder.scaling": 4, "builder.edit": 4, "builder.compare": 4, "builder.weights": 4,
    "builder.loader": 4,
    "blueprints": 5,
    "builder.data": 5,
    "builder.training": 6, "builder.export": 6, "builder.profiling": 6,
    "tuning": 7,
    "builder.cli": 8, "builder.__main__": 8,
    "builder": 8,  # the package face: what users import
}
#: Beside the core: these read only the bottom layer (and themselves).
APART = {"builder.data": {"builder.errors", "builder.text", "builder.checks"}}


def _modules():
    for folder in ("builder", "tuning", "blueprints"):
        for path in (ROOT / folder).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            yield name, path


def _unit(name: str) -> str:
    """The entry of LAYERS a module belongs to."""
    while name not in LAYERS:
        name = name.rsplit(".", 1)[0]
    return name


def _imports(name: str, path: Path):
    """(line, imported module) for each import of a project module in ``path``."""
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.split(".")[:len(package.split(".")) - (node.level - 1)]
                base = ".".join(up + ([node.module] if node.module else []))
            targets = [f"{base}.{a.name}" for a in node.names]
        else:
            continue
        for target in targets:
            if target.split(".")[0] in ("builder", "tuning", "blueprints"):
                yield node.lineno, target


def _known(target: str, modules: set) -> str:
    """The module an import names (``from pkg import name`` names pkg when name is not
    a module of it)."""
    while target not in modules and "." in target:
        target = target.rsplit(".", 1)[0]
    return target


def test_imports_point_down_only():
    modules = dict(_modules())
    upward = []
    for name, path in modules.items():
        mine = _unit(name)
        for line, target in _imports(name, path):
            theirs = _unit(_known(target, set(modules)))
            if theirs == mine:
                continue
            allowed = APART.get(mine)
            bad = (theirs not in allowed) if allowed else LAYERS[theirs] > LAYERS[mine]
            if bad or (theirs == "builder" and mine != "builder"
                       and LAYERS[mine] < LAYERS["builder"]):
                upward.append(f"{path.relative_to(ROOT)}:{line} {mine} -> {theirs}")
    assert not upward, "imports that point up:\n" + "\n".join(upward)


def test_every_module_has_a_layer():
    for name, _ in _modules():
        assert _unit(name) in LAYERS


#: Libraries heavy enough to import only inside the functions that use them, so that
#: ``import builder`` and the command line's start stay free of them.
HEAVY = {"keras", "tensorflow", "tensorflow_datasets", "keras_tuner", "jax", "torch",
         "tf2onnx", "onnx", "onnxruntime", "PIL", "sklearn", "matplotlib", "pydot"}
#: The longest a function under builder/ or tuning/ may be, in lines.
LONGEST = 60


def _functions():
    for folder in ("builder", "tuning"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            lines = path.read_text(encoding="utf-8").splitlines()
            for node in ast.walk(ast.parse("\n".join(lines))):
                if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    yield path.relative_to(ROOT), lines, node


def test_imports_inside_functions_are_heavy_or_say_why():
    """A function-local import holds a heavy library off a fast path, or its line (or
    the line above) says why it cannot sit at the top of the module."""
    unexplained = []
    for path, lines, function in _functions():
        for node in ast.walk(function):
            if isinstance(node, ast.Import):
                roots = {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom):
                roots = {(node.module or "").split(".")[0]} if not node.level else {""}
            else:
                continue
            if roots <= HEAVY:
                continue
            said = "#" in lines[node.lineno - 1] or lines[node.lineno - 2].strip().startswith("#")
            if not said:
                unexplained.append(f"{path}:{node.lineno} in {function.name}: "
                                   f"{lines[node.lineno - 1].strip()}")
    assert not unexplained, "imports inside functions with no reason:\n" + "\n".join(unexplained)


def test_no_function_is_longer_than_sixty_lines():
    long = [f"{path}:{node.lineno} {node.name} ({node.end_lineno - node.lineno + 1} lines)"
            for path, _, node in _functions()
            if node.end_lineno - node.lineno + 1 > LONGEST]
    assert not long, "functions over 60 lines:\n" + "\n".join(long)
