#!/usr/bin/env python3
"""The datasketch peer of examples/bench_corpus.rs, on the same JSONL texts.

MinHash(num_perm=128) over the same word 5-shingles as govwatch (lowercased alphanumeric runs,
each CJK character a token of its own), in a MinHashLSH(threshold=0.5, num_perm=128) held in
memory. Times the insertion of the corpus and, per query, MinHash construction + lsh.query; then,
given govwatch's RESULT lines, prints both side by side.

    bench_corpus_datasketch.py DIR [--govwatch RESULTS_FILE]
"""

import argparse
import json
import os
import re
import resource
import sys
import time

from datasketch import MinHash, MinHashLSH

NUM_PERM = 128
K = 5
_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff\U00020000-\U0002ffff"
# A CJK character alone, or a run of other alphanumerics (\w less the underscore).
_TOKEN = re.compile(f"[{_CJK}]|[^\\W_{_CJK}]+")


def shingles(text):
    toks = _TOKEN.findall(text.lower())
    if not toks:
        return []
    if len(toks) < K:
        return ["\x1f".join(toks).encode()]
    return list({"\x1f".join(toks[i : i + K]).encode() for i in range(len(toks) - K + 1)})


def minhash(text):
    m = MinHash(num_perm=NUM_PERM)
    m.update_batch(shingles(text))
    return m


def jsonl(path):
    with open(path, encoding="utf-8") as f:
        for line in f:
            yield json.loads(line)


def percentile(sorted_values, p):
    if not sorted_values:
        return 0.0
    i = max(1, min(len(sorted_values), int(-(-p * len(sorted_values) // 1)))) - 1
    return sorted_values[i]


def peak_rss_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("--govwatch", help="file with govwatch's RESULT key=value lines")
    a = ap.parse_args()

    import datasketch

    version = getattr(datasketch, "__version__", None)
    if version is None:
        from importlib.metadata import version as v

        version = v("datasketch")
    rss_start = peak_rss_mib()
    lsh = MinHashLSH(threshold=0.5, num_perm=NUM_PERM)
    t = time.perf_counter()
    n = 0
    with lsh.insertion_session() as session:
        for d in jsonl(os.path.join(a.dir, "corpus.jsonl")):
            session.insert(d["id"], minhash(d["text"]))
            n += 1
    insert_s = time.perf_counter() - t
    rate = n / insert_s
    print(
        f"datasketch {version}: MinHashLSH(threshold=0.5, num_perm=128), bands x rows = {lsh.b} x {lsh.r}, "
        f"in memory"
    )
    print(f"insert: {n} documents in {insert_s:.1f} s = {rate:.0f} docs/s (MinHash construction included)")

    times = []
    found = {}
    results = []
    for q in jsonl(os.path.join(a.dir, "queries.jsonl")):
        t0 = time.perf_counter()
        m = minhash(q["text"])
        keys = lsh.query(m)
        times.append(time.perf_counter() - t0)
        results.append(len(keys))
        hit, total = found.get(q["kind"], (0, 0))
        found[q["kind"]] = (hit + (q["source"] in keys), total + 1)
    peak = peak_rss_mib()
    times.sort()
    p50, p99 = percentile(times, 0.5) * 1e3, percentile(times, 0.99) * 1e3
    mean = sum(times) / max(1, len(times)) * 1e3
    print(
        f"lookup: {len(times)} queries: p50 {p50:.2f} ms, p99 {p99:.2f} ms, mean {mean:.2f} ms, "
        f"max {times[-1] * 1e3 if times else 0:.2f} ms; results per query p50 {sorted(results)[len(results) // 2]}"
    )
    print(f"peak RSS {peak:.0f} MiB (interpreter and datasketch loaded: {rss_start:.0f} MiB)")
    print("intended source among the results, by query kind:")
    for kind, (hit, total) in sorted(found.items()):
        print(f"  {kind:<15} {hit:>5} / {total}")

    if not a.govwatch:
        return
    gw = {}
    with open(a.govwatch) as f:
        for line in f:
            if line.startswith("RESULT "):
                k, _, v = line[len("RESULT ") :].strip().partition("=")
                gw[k] = float(v)
    rows = [
        ("import / insert, docs/s", gw["import_docs_per_s"], rate, "{:.0f}"),
        ("lookup p50, ms", gw["lookup_p50_ms"], p50, "{:.2f}"),
        ("lookup p99, ms", gw["lookup_p99_ms"], p99, "{:.2f}"),
        ("lookup mean, ms", gw["lookup_mean_ms"], mean, "{:.2f}"),
        ("peak RSS, MiB", max(gw["import_peak_rss_mib"], gw["lookup_peak_rss_mib"]), peak, "{:.0f}"),
        ("on disk, MiB", gw["db_mib"], 0.0, "{:.0f}"),
    ]
    print()
    print(f"{int(gw['docs'])} documents, {int(gw['queries'])} queries, same texts")
    print(f"{'':<26}{'govwatch':>12}{'datasketch':>12}{'govwatch / datasketch':>24}")
    for label, g, d, fmt in rows:
        ratio = f"{g / d:.2f}x" if d else "-"
        dcell = fmt.format(d) if d else "none"
        print(f"{label:<26}{fmt.format(g):>12}{dcell:>12}{ratio:>24}")
    print(
        "govwatch: SQLite on disk (WAL); a lookup is the pipeline's whole judgement of a new document:\n"
        "  MinHash + winnowed fingerprints, exact-hash lookup, LSH bands and fingerprint postings,\n"
        "  candidate rows, containment both ways and the verdict (text fetched and diffed for versions).\n"
        "  Peak RSS is the larger of import and lookup (store opened afresh), generation excluded.\n"
        "datasketch: in memory, nothing persisted; a lookup is MinHash construction + lsh.query, which\n"
        "  returns candidate keys only (no containment, no verdict). Peak RSS is the whole process."
    )


if __name__ == "__main__":
    sys.exit(main())
