#!/usr/bin/env python3
"""Top-level module dependency graph from `use crate::X` / `crate::X::` mentions; prints cycles."""
import os, re, sys, itertools
root = sys.argv[1] if len(sys.argv) > 1 else 'src'
mods = {}
for dp, _, fs in os.walk(root):
    for f in fs:
        if not f.endswith('.rs'): continue
        p = os.path.join(dp, f); rel = os.path.relpath(p, root)
        top = rel.split(os.sep)[0].removesuffix('.rs')
        if top in ('lib', 'main'): continue
        src = open(p).read()
        # drop #[cfg(test)] mod tests { ... } tails roughly: keep everything (tests count too)
        deps = set(re.findall(r'\bcrate::(\w+)', src))
        # `use crate::{a, b::c}` groups
        for g in re.findall(r'use crate::\{([^;]*)\};', src, re.S):
            deps |= set(re.findall(r'(?:^|[,{\s])(\w+)(?=::|\s*[,}]|$)', g))
        mods.setdefault(top, set()).update(d for d in deps if d != top)
names = set(mods)
for m in mods: mods[m] &= names
cyc = set()
for a in mods:
    for b in mods[a]:
        if a in mods.get(b, ()): cyc.add(tuple(sorted((a, b))))
# longer cycles via reachability
def reach(a):
    seen, st = set(), [a]
    while st:
        x = st.pop()
        for y in mods.get(x, ()):
            if y not in seen: seen.add(y); st.append(y)
    return seen
sccs = set()
for a in mods:
    r = reach(a)
    comp = frozenset([a] + [b for b in r if a in reach(b)]) if a in r else None
    if comp and len(comp) > 1: sccs.add(comp)
print("two-way pairs:", len(cyc), sorted(cyc))
print("strongly connected groups:", [sorted(s) for s in sccs])
