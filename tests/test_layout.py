"""The package's layout: no import cycle among gluon_bert's modules (imports
inside functions count too: they close a cycle as soon as they run) and no
module over 400 lines (a benchmark script: under 600).

The imports are read from the source (ast), nothing is imported.  An import
names a module of the package, or a package whose `__init__` it then runs
(`from gluon_bert import _usable_cpus` is an import of gluon_bert/__init__.py).
"""
import ast
import importlib.util
import os
from collections import deque

MAX_LINES = 400


def package_modules(root, package):
    """{module name: path} of every .py file in the package folder `root`."""
    modules = {}
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d != '__pycache__')
        rel = os.path.relpath(folder, root)
        parts = [package] + ([] if rel == '.' else rel.split(os.sep))
        for name in sorted(files):
            if name.endswith('.py'):
                modules['.'.join(parts + ([] if name == '__init__.py' else [name[:-3]]))] = \
                    os.path.join(folder, name)
    return modules


def _targets(node, module, is_package):
    """The dotted names an import statement of `module` may load."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if node.level:                                  # relative: from . import x, from ..a import b
        base = module.split('.') if is_package else module.split('.')[:-1]
        base = base[:len(base) - (node.level - 1)]
        prefix = '.'.join(base + ([node.module] if node.module else []))
    else:
        prefix = node.module
    # `from P import x`: the module P.x if there is one, else P (x is one of its names)
    return [(prefix + '.' + alias.name, prefix) for alias in node.names]


def import_graph(modules):
    """{module: {imported module of `modules`: (path, line) of the first such import}},
    over every import statement of each module, at any depth."""
    graph = {}
    for module, path in modules.items():
        with open(path, encoding='utf-8') as f:
            tree = ast.parse(f.read(), path)
        edges = graph.setdefault(module, {})
        for node in ast.walk(tree):
            if not isinstance(node, (ast.Import, ast.ImportFrom)):
                continue
            for target in _targets(node, module, path.endswith('__init__.py')):
                if isinstance(target, tuple):
                    target = target[0] if target[0] in modules else target[1]
                if target in modules and target != module:
                    edges.setdefault(target, (path, node.lineno))
    return graph


def strongly_connected(graph):
    """Tarjan's strongly connected components of `graph`, each a sorted list."""
    index, low, stack, on_stack, components = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            components.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return components


def import_cycles(graph):
    """One shortest cycle [m0, m1, ..., m0] through the first module of every
    strongly connected component of more than one module."""
    cycles = []
    for component in strongly_connected(graph):
        if len(component) < 2:
            continue
        start, members = component[0], set(component)
        came_from, queue = {start: None}, deque([start])
        while queue:
            v = queue.popleft()
            if start in graph[v]:
                path = [v]
                while came_from[path[-1]] is not None:
                    path.append(came_from[path[-1]])
                cycles.append(path[::-1] + [start])
                break
            for w in sorted(graph[v]):
                if w in members and w not in came_from:
                    came_from[w] = v
                    queue.append(w)
    return cycles


def describe(cycle, graph, root):
    steps = ['%s imports %s (%s:%d)' % (a, b, os.path.relpath(graph[a][b][0], root),
                                        graph[a][b][1])
             for a, b in zip(cycle, cycle[1:])]
    return ' -> '.join(cycle) + '\n    ' + '\n    '.join(steps)


def gluon_bert_folder():
    """The package's folder (found, not imported)."""
    return importlib.util.find_spec('gluon_bert').submodule_search_locations[0]


def test_no_import_cycle_among_gluon_bert_modules():
    root = gluon_bert_folder()
    modules = package_modules(root, 'gluon_bert')
    assert 'gluon_bert.train.finetune' in modules and 'gluon_bert.cli' in modules
    graph = import_graph(modules)
    cycles = import_cycles(graph)
    assert not cycles, 'import cycles:\n' + '\n'.join(
        describe(c, graph, os.path.dirname(root)) for c in cycles)


def test_no_module_over_400_lines():
    root = gluon_bert_folder()
    too_long = {}
    for module, path in package_modules(root, 'gluon_bert').items():
        with open(path, encoding='utf-8') as f:
            n = len(f.read().splitlines())
        if n > MAX_LINES:
            too_long[os.path.relpath(path, os.path.dirname(root))] = n
    assert not too_long, 'modules over %d lines: %s' % (MAX_LINES, ', '.join(
        '%s (%d)' % item for item in sorted(too_long.items())))


def test_no_benchmark_script_over_600_lines():
    """The benchmark scripts (not a package: run as files) have a limit of their own."""
    folder = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'benchmarks')
    sizes = {}
    for name in sorted(os.listdir(folder)):
        if name.endswith('.py'):
            with open(os.path.join(folder, name), encoding='utf-8') as f:
                sizes[name] = len(f.read().splitlines())
    assert 'run.py' in sizes
    too_long = {name: n for name, n in sizes.items() if n >= 600}
    assert not too_long, 'benchmark scripts of 600 lines or more: %s' % too_long


def test_the_checks_see_cycles_through_functions_and_relative_imports(tmp_path):
    """The checker itself, on a small package: `a` imports `b` inside a function,
    `b` imports `c.d` relatively, `c.d` imports a name of `pkg` (its __init__),
    which imports `a`; `e` imports `a` without being imported back."""
    files = {
        '__init__.py': 'from pkg.a import f\n',
        'a.py': 'import os\n\n\ndef f():\n    import pkg.b\n    return pkg.b\n',
        'b.py': 'from .c import d\n',
        'c/__init__.py': '',
        'c/d.py': 'from .. import f as g\n',
        'e.py': 'from pkg import a\n',
    }
    for name, text in files.items():
        (tmp_path / 'pkg' / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / 'pkg' / name).write_text(text)
    modules = package_modules(str(tmp_path / 'pkg'), 'pkg')
    assert sorted(modules) == ['pkg', 'pkg.a', 'pkg.b', 'pkg.c', 'pkg.c.d', 'pkg.e']
    graph = import_graph(modules)
    assert graph['pkg.a'] == {'pkg.b': (modules['pkg.a'], 5)}
    assert sorted(graph['pkg.b']) == ['pkg.c.d'] and sorted(graph['pkg.c.d']) == ['pkg']
    assert sorted(graph['pkg.e']) == ['pkg.a']
    assert import_cycles(graph) == [['pkg', 'pkg.a', 'pkg.b', 'pkg.c.d', 'pkg']]
    report = describe(import_cycles(graph)[0], graph, str(tmp_path))
    assert report.startswith('pkg -> pkg.a -> pkg.b -> pkg.c.d -> pkg')
    assert 'pkg.a imports pkg.b (%s:5)' % os.path.join('pkg', 'a.py') in report
    del graph['pkg.c.d']['pkg']
    assert import_cycles(graph) == []
