#!/usr/bin/env python3
"""Fails when the modules of shared/domain import each other in a cycle.

The domain is layered one way (vocabulary -> policy -> form -> rules -> stages -> the
aggregate): a module may use only modules below it. This reads every `crate::<module>` path in
each module's source (comments and doc comments excluded), builds the graph of module imports and
reports each strongly connected component with more than one module, with the lines that close it.
"""
import pathlib
import re
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent / "shared" / "domain" / "src"
PATH = re.compile(r"\bcrate::([a-z_][a-z0-9_]*)")


def code_lines(text):
    """Yields (line number, code) with // comments removed (string contents are kept: a
    `crate::` inside a string literal would be rare and harmless to over-report)."""
    for n, line in enumerate(text.splitlines(), 1):
        stripped = line.split("//", 1)[0]
        if stripped.strip():
            yield n, stripped


def modules():
    out = {}
    for f in sorted(ROOT.rglob("*.rs")):
        rel = f.relative_to(ROOT)
        if rel.name == "lib.rs":
            continue
        name = rel.parts[0].removesuffix(".rs")
        out.setdefault(name, []).append(f)
    return out


def graph(mods):
    edges = {m: {} for m in mods}
    for m, files in mods.items():
        for f in files:
            for n, code in code_lines(f.read_text(encoding="utf-8")):
                # `use crate::{a, b::c}` names several modules at once.
                for group in re.findall(r"\bcrate::\{([^}]*)\}", code):
                    for part in group.split(","):
                        target = part.strip().split("::")[0]
                        if target in mods and target != m:
                            edges[m].setdefault(target, f"{f.relative_to(ROOT)}:{n}")
                for target in PATH.findall(code):
                    if target in mods and target != m:
                        edges[m].setdefault(target, f"{f.relative_to(ROOT)}:{n}")
    return edges


def components(edges):
    index, low, stack, on, out = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in edges[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            out.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for v in sorted(edges):
        if v not in index:
            visit(v)
    return out


def main():
    mods = modules()
    edges = graph(mods)
    cycles = [c for c in components(edges) if len(c) > 1]
    if not cycles:
        order = layers(edges)
        print(f"domain: {len(mods)} modules, no import cycle; layers from the bottom:")
        for i, layer in enumerate(order):
            print(f"  {i}: {', '.join(layer)}")
        return 0
    for c in cycles:
        print(f"import cycle among: {', '.join(c)}", file=sys.stderr)
        for a in c:
            for b, where in sorted(edges[a].items()):
                if b in c:
                    print(f"  {a} -> {b}  ({where})", file=sys.stderr)
    return 1


def layers(edges):
    """Modules grouped by their height above the modules that import nothing."""
    height = {}

    def h(v):
        if v not in height:
            height[v] = 0
            height[v] = 1 + max((h(w) for w in edges[v]), default=-1)
        return height[v]

    for v in edges:
        h(v)
    out = {}
    for v, k in height.items():
        out.setdefault(k, []).append(v)
    return [sorted(out[k]) for k in sorted(out)]


if __name__ == "__main__":
    sys.exit(main())
