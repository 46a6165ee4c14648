#!/usr/bin/env python3
"""Functions over N lines (brace matching from `fn` to its closing brace)."""
import os, re, sys
root = sys.argv[1] if len(sys.argv) > 1 else 'src'; N = 80
out = []
for dp, _, fs in os.walk(root):
    for f in fs:
        if not f.endswith('.rs'): continue
        p = os.path.join(dp, f); lines = open(p).read().split('\n')
        i = 0
        while i < len(lines):
            m = re.match(r'\s*(pub(\([^)]*\))?\s+)?(async\s+)?(const\s+)?(unsafe\s+)?fn\s+(\w+)', lines[i])
            if m:
                depth, started, j = 0, False, i
                while j < len(lines):
                    s = re.sub(r'"(\\.|[^"\\])*"', '""', lines[j]); s = re.sub(r"'(\\.|[^'\\])'", "''", s); s = s.split('//')[0]
                    if not started and ';' in s and '{' not in s: break
                    depth += s.count('{') - s.count('}')
                    if '{' in s: started = True
                    if started and depth <= 0: break
                    j += 1
                n = j - i + 1
                if started and n > N: out.append((n, p, m.group(6)))
            i += 1
out.sort(reverse=True)
for n, p, name in out: print(n, p, name)
print("functions over", N, "lines:", len(out))
