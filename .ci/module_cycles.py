#!/usr/bin/env python3
"""Fails when the gateway's modules import each other in a cycle: between top-level modules of
src/ (`crate::NAME`), or between the files of one module folder (`super::NAME`). Comments and
`#[cfg(test)] mod tests` are skipped. The layering it keeps is in docs/architecture.md.

    python3 .ci/module_cycles.py [src]
"""
import re, pathlib, sys, itertools
src = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else 'src')
def strip(text):
    # drop #[cfg(test)] mod tests { ... } at the end and comments
    i = text.find('#[cfg(test)]\nmod tests')
    if i >= 0: text = text[:i]
    return '\n'.join(l.split('//')[0] for l in text.split('\n'))
def top(path):
    rel = path.relative_to(src)
    return rel.parts[0].removesuffix('.rs')
files = [p for p in src.rglob('*.rs')]
graph = {}
for p in files:
    t = top(p)
    if t in ('lib', 'main'): continue
    text = strip(p.read_text())
    for m in re.finditer(r'\bcrate::([a-z_]+)', text):
        if m.group(1) != t: graph.setdefault(t, set()).add(m.group(1))
# SCCs (Tarjan)
def sccs(g):
    index, low, st, on, out, n = {}, {}, [], set(), [], [0]
    def visit(v):
        index[v] = low[v] = n[0]; n[0] += 1; st.append(v); on.add(v)
        for w in g.get(v, ()):
            if w not in index: visit(w); low[v] = min(low[v], low[w])
            elif w in on: low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = st.pop(); on.discard(w); comp.append(w)
                if w == v: break
            if len(comp) > 1: out.append(sorted(comp))
    for v in list(g): 
        if v not in index: visit(v)
    return out
cyc = sccs(graph)
print('top-level module cycles:', cyc or 'none')
failed = bool(cyc)
# within module dirs: files referencing siblings via super:: or crate::dir::file
for d in [p for p in src.iterdir() if p.is_dir()]:
    g = {}
    for p in d.glob('*.rs'):
        name = p.stem
        if name == 'mod': continue
        text = strip(p.read_text())
        for m in re.finditer(r'\b(?:super|crate::%s)::([a-z_]+)' % d.name, text):
            sib = m.group(1)
            if sib != name and (d / f'{sib}.rs').exists(): g.setdefault(name, set()).add(sib)
    c = sccs(g)
    if c:
        print(f'{d.name}/ file cycles:', c)
        failed = True
sys.exit(1 if failed else 0)
