"""Imports in rnnkit flow one way: a static check of the layers of the design, and of import cycles.

The layers, top to bottom (an import may only go down, or sideways within a layer)::

    cli -> serve / export / api / prediction_output -> tasks -> models / decode / analysis / data -> nn / train / text

* ``rnnkit/__init__.py`` may import anything; of the rest, only the cli imports it.
* ``reference`` stands apart: it imports nothing else of rnnkit, and nothing of rnnkit imports it (only the tests).
* Within the middle layer only these imports are allowed: decode -> models, analysis -> models, analysis -> data
  (models never import decode; data never imports models).
* No import cycles: neither among modules, nor among the packages of any one parent package.

Every ``import`` and ``from ... import`` counts, at module level or inside a function; relative imports are resolved;
only imports of rnnkit itself are considered. A layer with no modules yet (serve, export) is simply empty.
"""

from __future__ import annotations

import ast
from pathlib import Path

SOURCE = Path(__file__).resolve().parents[1] / "src" / "rnnkit"

LAYERS: tuple[tuple[str, ...], ...] = (  # top to bottom
    ("cli",),
    ("serve", "export", "api", "prediction_output"),
    ("tasks",),
    ("models", "decode", "analysis", "data"),
    ("nn", "train", "text"),
)
RANK = {component: len(LAYERS) - index for index, names in enumerate(LAYERS) for component in names}
MIDDLE_ALLOWED = {("decode", "models"), ("analysis", "models"), ("analysis", "data")}  # importer, imported
MIDDLE = set(LAYERS[3])
ROOT, APART = "root", "reference"


def module_sources(package_dir: Path) -> dict[str, tuple[Path, bool]]:
    """``{module name: (file, is a package)}`` of every .py under ``package_dir`` (its name is the top package)."""
    modules = {}
    for path in sorted(package_dir.rglob("*.py")):
        parts = path.relative_to(package_dir.parent).with_suffix("").parts
        is_package = parts[-1] == "__init__"
        modules[".".join(parts[:-1] if is_package else parts)] = (path, is_package)
    return modules


def import_graph(package_dir: Path) -> tuple[dict[str, set[str]], set[str]]:
    """The modules each module imports (within the package), and the names of the packages.

    An import of a module that does not exist keeps its name (:func:`missing_modules` reports it).
    """
    modules = module_sources(package_dir)
    top = package_dir.name

    def ours(name: str) -> str | None:  # imports of other packages do not count
        return name if name.split(".")[0] == top else None

    graph: dict[str, set[str]] = {}
    for module, (path, is_package) in modules.items():
        package = module if is_package else module.rpartition(".")[0]
        targets: set[str | None] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
            if isinstance(node, ast.Import):
                targets.update(ours(alias.name) for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1])
                    base = f"{base}.{node.module}" if node.module else base
                else:
                    base = node.module or ""
                for alias in node.names:  # `from pkg import sub` imports the module pkg.sub when there is one
                    candidate = f"{base}.{alias.name}"
                    targets.add(ours(candidate if candidate in modules else base))
        graph[module] = {target for target in targets if target is not None and target != module}
    return graph, {module for module, (_, is_package) in modules.items() if is_package}


def component(module: str) -> str:
    """The top-level subpackage or module under rnnkit (the cli package, ``cli_*`` modules and ``__main__`` are all
    "cli")."""
    parts = module.split(".")
    if len(parts) == 1:
        return ROOT
    return "cli" if parts[1] in ("cli", "__main__") or parts[1].startswith("cli_") else parts[1]


def missing_modules(graph: dict[str, set[str]]) -> list[str]:
    """One line per import of a module of the package that does not exist (say, a relative import left behind by a
    move: it would be an ImportError, and the layer check cannot place it)."""
    return [f"{module} imports {target}, which is no module of the package"
            for module in sorted(graph) for target in sorted(graph[module]) if target not in graph]


def layer_violations(graph: dict[str, set[str]]) -> list[str]:
    """One line per import that goes the wrong way between layers."""
    problems = []
    for module in sorted(graph):
        for target in sorted(graph[module]):
            source_layer, target_layer = component(module), component(target)
            if source_layer == target_layer:
                continue
            if APART in (source_layer, target_layer):
                allowed = False  # the reference implementation imports nothing of rnnkit, and nothing imports it
            elif source_layer == ROOT:
                allowed = True  # rnnkit/__init__.py may re-export anything
            elif target_layer == ROOT:
                allowed = source_layer == "cli"
            elif source_layer not in RANK or target_layer not in RANK:
                unknown = source_layer if source_layer not in RANK else target_layer
                problems.append(f"{module} imports {target} (layer {source_layer} -> layer {target_layer}: "
                                f"{unknown} is in no layer; add it to LAYERS in tests/test_layers.py)")
                continue
            elif RANK[source_layer] == RANK[target_layer]:
                allowed = source_layer not in MIDDLE or (source_layer, target_layer) in MIDDLE_ALLOWED
            else:
                allowed = RANK[source_layer] > RANK[target_layer]
            if not allowed:
                problems.append(f"{module} imports {target} (layer {source_layer} -> layer {target_layer}, "
                                "not allowed)")
    return problems


def strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one node (Tarjan), each sorted, in sorted order."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for successor in sorted(graph.get(node, ())):
            if successor not in index:
                visit(successor)
                low[node] = min(low[node], low[successor])
            elif successor in on_stack:
                low[node] = min(low[node], index[successor])
        if low[node] == index[node]:
            members = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                members.append(member)
                if member == node:
                    break
            if len(members) > 1:
                components.append(sorted(members))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(components)


def one_cycle(graph: dict[str, set[str]], members: list[str]) -> list[str]:
    """A shortest cycle through the first member, within ``members``: ``[a, b, ..., a]``."""
    start, inside = members[0], set(members)
    paths = {start: [start]}
    queue = [start]
    while queue:
        node = queue.pop(0)
        for successor in sorted(graph.get(node, ())):
            if successor == start:
                return [*paths[node], start]
            if successor in inside and successor not in paths:
                paths[successor] = [*paths[node], successor]
                queue.append(successor)
    raise AssertionError(f"no cycle through {start}")  # cannot happen in a strongly connected component


def module_cycles(graph: dict[str, set[str]]) -> list[str]:
    """One line per import cycle among modules."""
    return [f"import cycle among modules: {' -> '.join(one_cycle(graph, members))}"
            + (f" (one of the cycles among {', '.join(members)})"
               if len(one_cycle(graph, members)) <= len(members) else "")
            for members in strongly_connected(graph)]


def package_cycles(graph: dict[str, set[str]], packages: set[str]) -> list[str]:
    """One line per import cycle among the children of one package where a child is a package itself.

    An import a -> b counts, in the package P that holds both, as an import between the children of P that hold a
    and b (``rnnkit.models.condgen -> rnnkit.decode.sampling`` is models -> decode within rnnkit). Imports by
    P's own ``__init__`` do not count (a package may re-export its children). Cycles of plain modules only are
    the module cycles.
    """
    children: dict[str, dict[str, set[str]]] = {}
    for module, targets in graph.items():
        for target in targets:
            a, b = module.split("."), target.split(".")
            common = 0
            while common < min(len(a), len(b)) and a[common] == b[common]:
                common += 1
            if common in (len(a), len(b)):
                continue  # one is the package of the other: an __init__ re-exporting, or a module its package
            parent = ".".join(a[:common])
            children.setdefault(parent, {}).setdefault(".".join(a[: common + 1]), set()).add(".".join(b[: common + 1]))
    problems = []
    for parent in sorted(children):
        for members in strongly_connected(children[parent]):
            if any(member in packages for member in members):
                problems.append(f"import cycle among the packages of {parent}: "
                                f"{' -> '.join(one_cycle(children[parent], members))}")
    return problems


def check(package_dir: Path) -> list[str]:
    """Every problem found in a package tree: missing modules, wrong-way imports, module and package cycles."""
    graph, packages = import_graph(package_dir)
    return missing_modules(graph) + layer_violations(graph) + module_cycles(graph) + package_cycles(graph, packages)


def _report(problems: list[str]) -> str:
    return f"{len(problems)} problem(s):\n" + "\n".join(problems)


def test_the_checker_reads_the_real_tree():
    graph, packages = import_graph(SOURCE)
    assert "rnnkit.models" in packages and "rnnkit.nn.recurrent" in graph
    assert "rnnkit.models.seq2seq" in graph["rnnkit.decode.beam"]  # from ..models.seq2seq import select_state
    assert "rnnkit.models" in graph["rnnkit.analysis.gradflow"]  # imported inside a function
    assert "rnnkit.analysis" in graph["rnnkit"]  # from . import analysis, nn


def test_imports_go_down_the_layers():
    problems = layer_violations(import_graph(SOURCE)[0])
    assert not problems, _report(problems)


def test_every_imported_module_exists():
    problems = missing_modules(import_graph(SOURCE)[0])
    assert not problems, _report(problems)


def test_no_import_cycles_among_modules():
    problems = module_cycles(import_graph(SOURCE)[0])
    assert not problems, _report(problems)


def test_no_import_cycles_among_packages():
    problems = package_cycles(*import_graph(SOURCE))
    assert not problems, _report(problems)


def _write_tree(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root / "rnnkit"


def test_the_checker_catches_wrong_way_imports_and_cycles(tmp_path):
    package = _write_tree(tmp_path, {
        "rnnkit/__init__.py": "from . import nn\nfrom .reference import elman\n",  # anything but reference
        "rnnkit/nn/__init__.py": "",
        "rnnkit/nn/cells.py": "import os\n",
        "rnnkit/nn/x.py": "from rnnkit.tasks.y import g\n\ndef f():\n    from .. import models\n",  # both wrong
        "rnnkit/tasks/__init__.py": "from .lm.train import main\n",  # re-exports: no package cycle
        "rnnkit/tasks/y.py": "from ..nn import cells\n\ndef g():\n    pass\n",  # allowed; nn <-> tasks
        "rnnkit/tasks/run_dir.py": "",
        "rnnkit/tasks/lm/__init__.py": "",
        "rnnkit/tasks/lm/train.py": "from ..run_dir import read\nfrom ..seq import model\n",
        "rnnkit/tasks/lm/vocab.py": "",
        "rnnkit/tasks/seq/__init__.py": "",
        "rnnkit/tasks/seq/model.py": "from rnnkit.tasks.lm.vocab import Vocab\n",  # tasks.lm <-> tasks.seq
        "rnnkit/models/__init__.py": "from .a import A\n",
        "rnnkit/models/a.py": "from . import b\nimport rnnkit.decode.sampling\n",  # models -> decode: wrong
        "rnnkit/models/b.py": "def B():\n    from rnnkit.models.a import A\n",  # a <-> b
        "rnnkit/models/c.py": "",
        "rnnkit/decode/__init__.py": "",
        "rnnkit/decode/sampling.py": "from ..models.c import C\n",  # allowed; models <-> decode
        "rnnkit/data/__init__.py": "",
        "rnnkit/data/corpus.py": "",
        "rnnkit/analysis/__init__.py": "",
        "rnnkit/analysis/probes.py": "from ..data.corpus import EOS\nfrom ..models.c import C\n",  # allowed
        "rnnkit/reference/__init__.py": "",
        "rnnkit/reference/elman.py": "from ..nn import cells\n",
        "rnnkit/cli_a.py": "from . import cli_b, __version__\n",  # the cli may import the root
        "rnnkit/cli_b.py": "from .cli_a import main\n",
        "rnnkit/__main__.py": "from .cli_a import main\n",  # the entry point is part of the cli
        "rnnkit/gadgets.py": "import rnnkit.nn.cells\nfrom .nn.gone import f\n",
    })
    graph, packages = import_graph(package)
    assert graph["rnnkit.nn.x"] == {"rnnkit.tasks.y", "rnnkit.models"}  # the import in the function too
    assert graph["rnnkit.tasks.y"] == {"rnnkit.nn.cells"}  # from package import submodule
    assert graph["rnnkit.cli_a"] == {"rnnkit.cli_b", "rnnkit"}
    assert "rnnkit.tasks.lm" in packages and "rnnkit.tasks.y" not in packages
    assert check(package) == [
        "rnnkit.gadgets imports rnnkit.nn.gone, which is no module of the package",
        "rnnkit imports rnnkit.reference.elman (layer root -> layer reference, not allowed)",
        "rnnkit.gadgets imports rnnkit.nn.cells (layer gadgets -> layer nn: gadgets is in no layer; "
        "add it to LAYERS in tests/test_layers.py)",
        "rnnkit.gadgets imports rnnkit.nn.gone (layer gadgets -> layer nn: gadgets is in no layer; "
        "add it to LAYERS in tests/test_layers.py)",
        "rnnkit.models.a imports rnnkit.decode.sampling (layer models -> layer decode, not allowed)",
        "rnnkit.nn.x imports rnnkit.models (layer nn -> layer models, not allowed)",
        "rnnkit.nn.x imports rnnkit.tasks.y (layer nn -> layer tasks, not allowed)",
        "rnnkit.reference.elman imports rnnkit.nn.cells (layer reference -> layer nn, not allowed)",
        "import cycle among modules: rnnkit.cli_a -> rnnkit.cli_b -> rnnkit.cli_a",
        "import cycle among modules: rnnkit.models.a -> rnnkit.models.b -> rnnkit.models.a",
        "import cycle among the packages of rnnkit: rnnkit.decode -> rnnkit.models -> rnnkit.decode",
        "import cycle among the packages of rnnkit: rnnkit.nn -> rnnkit.tasks -> rnnkit.nn",
        "import cycle among the packages of rnnkit.tasks: rnnkit.tasks.lm -> rnnkit.tasks.seq -> rnnkit.tasks.lm",
    ]


def test_the_checker_passes_a_clean_tree(tmp_path):
    package = _write_tree(tmp_path, {
        "rnnkit/__init__.py": "from . import nn\n\ndef load():\n    from .api import load\n",
        "rnnkit/nn/__init__.py": "from .cells import Cell\n",
        "rnnkit/nn/cells.py": "class Cell:\n    pass\n",
        "rnnkit/models/__init__.py": "from .lm import LM\n",
        "rnnkit/models/lm.py": "from ..nn import Cell\nfrom ..train.config import validate\n",
        "rnnkit/train/config.py": "def validate():\n    pass\n",
        "rnnkit/decode/sampling.py": "from rnnkit.models.lm import LM\n",
        "rnnkit/tasks/lm.py": "from ..decode.sampling import sample\nfrom ..data import corpus\n",
        "rnnkit/data/corpus.py": "from ..text import Vocab\n",
        "rnnkit/text/__init__.py": "",
        "rnnkit/api.py": "from .tasks import lm\n",
        "rnnkit/cli/__init__.py": "from .. import __version__\nfrom ..api import load\n",
    })
    assert check(package) == []
