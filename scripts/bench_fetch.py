#!/usr/bin/env python3
"""Fetch benchmark driver (run by scripts/bench-fetch).

Starts examples/bench_sites (HTTP servers on 127.0.0.1..N), then measures, each as a child
process whose CPU time and peak memory come from wait4():

  1. govwatch, a full pass over HOSTS x PAGES watches, per-host politeness off;
  2. the same with politeness on (defaults: robots.txt, one request at a time per host, 1 s apart);
  3. govwatch and urlwatch on the same PEER_PAGES pages (spread over all hosts), first pass and
     second pass (pages unchanged), politeness off for govwatch (urlwatch has none).

Prints a table and the ratios. Never fails because the machine was slow.

With --nodes 1,2,3 it measures instead several govwatch nodes on one database (issue 17): one
node on SQLite, then 1, 2 and 3 nodes on a fresh schema of the PostgreSQL server --postgres
(dropped after), each node a `govwatch check --all` of its own, all started at once on the same
watches, with politeness on and then off. Besides pass time and each node's CPU and memory it
checks, from the sites' request log, that no origin had two requests in flight at once or two
starts closer than the delay, and that no page was fetched twice; and, in the database, that
every document has exactly one version.
"""

import argparse
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.request

CLK_TCK = os.sysconf("SC_CLK_TCK")


def run(cmd, log_path, env=None):
    """Runs cmd to the end; returns (wall seconds, cpu seconds, peak RSS MiB, exit code)."""
    with open(log_path, "wb") as log:
        start = time.monotonic()
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.monotonic() - start
    code = os.waitstatus_to_exitcode(status)
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, code


def page_urls(hosts, pages, port):
    return [f"http://127.0.0.{h}:{port}/p/{n}.html" for n in range(pages) for h in range(1, hosts + 1)]


def govwatch_config(path, db, urls, polite, concurrency=32):
    """Politeness off means no per-host limits and no robots.txt; `concurrency` is the number of
    checks at once (govwatch's default is 8; urlwatch runs 10 worker threads)."""
    with open(path, "w") as f:
        f.write(f'[storage]\npath = "{db}"\n\n[log]\nlevel = "warn"\n\n')
        if polite:
            f.write("[fetch]\n# the defaults: robots.txt, one request at a time per host, 1 s apart\n\n")
        else:
            f.write(
                f'[fetch]\nconcurrency = {concurrency}\nper_host_concurrency = {concurrency}\n'
                'per_host_delay = "0s"\n\n'
            )
        for i, u in enumerate(urls):
            f.write(f'[[watch]]\nname = "w{i}"\nurl = "{u}"\n')
            if not polite:
                f.write("robots = false\n")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--govwatch", required=True)
    ap.add_argument("--sites", required=True)
    ap.add_argument("--urlwatch", help="needed for the default run, not for --nodes")
    ap.add_argument("--out", required=True)
    ap.add_argument("--hosts", type=int, default=100)
    ap.add_argument("--pages", type=int, default=100, help="pages per host")
    ap.add_argument("--peer-pages", type=int, default=1000)
    ap.add_argument("--port", type=int, default=18080)
    ap.add_argument("--skip-polite", action="store_true", help="skip the politeness-on pass")
    ap.add_argument("--nodes", help="several nodes on one database: node counts on PostgreSQL, e.g. 1,2,3")
    ap.add_argument("--postgres", help="with --nodes: the server, e.g. postgres://postgres@127.0.0.1:5432/test")
    ap.add_argument("--politeness", default="on,off", help="with --nodes: on, off or on,off")
    ap.add_argument("--delay", default="1s", help="with --nodes: per_host_delay when politeness is on (1s at least)")
    ap.add_argument("--split", action="store_true",
                    help="with --nodes: also politeness off with the hosts split between the nodes' configs")
    ap.add_argument("--latency-ms", type=int, default=20, help="with --nodes: the sites hold each response this long")
    a = ap.parse_args()
    if a.nodes:
        return nodes_main(a)
    if not a.urlwatch:
        sys.exit("--urlwatch is needed (or --nodes)")

    shutil.rmtree(a.out, ignore_errors=True)
    os.makedirs(a.out)
    server = subprocess.Popen([a.sites, "--hosts", str(a.hosts), "--port", str(a.port)], stdout=subprocess.PIPE)
    if server.stdout.readline().strip() != b"ready":
        sys.exit("bench_sites did not start")
    rows = []
    try:
        all_urls = page_urls(a.hosts, a.pages, a.port)
        runs = [("off", False)] + ([] if a.skip_polite else [("on", True)])
        for label, polite in runs:
            cfg = os.path.join(a.out, f"full-{label}.toml")
            govwatch_config(cfg, os.path.join(a.out, f"full-{label}.db"), all_urls, polite)
            r = run([a.govwatch, "--config", cfg, "check", "--all"], os.path.join(a.out, f"full-{label}.log"))
            rows.append((f"govwatch, politeness {label}", len(all_urls), *r))
            print_row(rows[-1], flush=True)

        peer_urls = all_urls[: a.peer_pages]
        cfg = os.path.join(a.out, "peer-govwatch.toml")
        # Against urlwatch, both run at their default concurrency (8 checks; 10 threads), with
        # govwatch's per-host rules off as urlwatch has none.
        govwatch_config(cfg, os.path.join(a.out, "peer-govwatch.db"), peer_urls, False, concurrency=8)
        urls_yaml = os.path.join(a.out, "urls.yaml")
        with open(urls_yaml, "w") as f:
            f.write("\n---\n".join(f"name: p{i}\nurl: {u}" for i, u in enumerate(peer_urls)) + "\n")
        uw = [
            a.urlwatch,
            "--urls", urls_yaml,
            "--config", os.path.join(a.out, "urlwatch.yaml"),
            "--hooks", os.path.join(a.out, "hooks.py"),
            "--cache", os.path.join(a.out, "urlwatch-cache.db"),
        ]
        env = dict(os.environ, HOME=a.out)
        for n in ("first", "second"):
            r = run(uw, os.path.join(a.out, f"urlwatch-{n}.log"), env=env)
            rows.append((f"urlwatch, {n} pass", len(peer_urls), *r))
            print_row(rows[-1], flush=True)
            r = run([a.govwatch, "--config", cfg, "check", "--all"], os.path.join(a.out, f"peer-govwatch-{n}.log"))
            rows.append((f"govwatch, {n} pass", len(peer_urls), *r))
            print_row(rows[-1], flush=True)
    finally:
        server.kill()
        server.wait()

    print()
    header()
    for row in rows:
        print_row(row)
    by = {r[0]: r for r in rows}
    print()
    for n in ("first", "second"):
        g, u = by.get(f"govwatch, {n} pass"), by.get(f"urlwatch, {n} pass")
        if g and u:
            print(
                f"{n} pass on the same {g[1]} pages: govwatch {u[2] / g[2]:.1f}x faster (wall), "
                f"{u[3] / max(g[3], 1e-9):.1f}x less CPU, peak memory {g[4] / u[4]:.2f} of urlwatch's"
            )
    bad = [r for r in rows if r[5] != 0]
    for r in bad:
        print(f"note: {r[0]} exited with {r[5]} (see {a.out})")


def header():
    print(f"{'run':<30} {'pages':>6} {'wall s':>8} {'pages/s':>8} {'CPU s':>7} {'peak MiB':>9}")


def print_row(r, flush=False):
    name, pages, wall, cpu, rss, _code = r
    print(f"{name:<30} {pages:>6} {wall:>8.2f} {pages / wall:>8.1f} {cpu:>7.2f} {rss:>9.1f}", flush=flush)


# --- Several nodes on one database (--nodes) -------------------------------------------------


def nodes_config(path, storage, node, urls, polite, delay):
    """One node's config: its own `[daemon] node` name (as on separate machines), the same
    watches and database as the others. Politeness on is one request at a time per origin,
    `delay` apart (start to start), and robots.txt; off is as in the single-node run."""
    with open(path, "w") as f:
        f.write(f"[storage]\n{storage}\n\n[log]\nlevel = \"warn\"\n\n[daemon]\nnode = \"{node}\"\n\n")
        if polite:
            f.write(f'[fetch]\nper_host_concurrency = 1\nper_host_delay = "{delay}"\n\n')
        else:
            f.write('[fetch]\nconcurrency = 32\nper_host_concurrency = 32\nper_host_delay = "0s"\n\n')
        for i, u in enumerate(urls):
            f.write(f'[[watch]]\nname = "w{i}"\nurl = "{u}"\n')
            if not polite:
                f.write("robots = false\n")


def psql(server, sql):
    out = subprocess.run(["psql", "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", server, "-c", sql],
                         check=True, capture_output=True, text=True)
    return out.stdout.strip()


def schema_url(server, schema):
    sep = "&" if "?" in server else "?"
    return f"{server}{sep}sslmode=disable&options=-c%20search_path%3D{schema}"


def proc_cpu(pid):
    """utime + stime of a process in seconds, or None once it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLK_TCK
    except (OSError, IndexError, ValueError):
        return None


def machine_busy():
    """(busy, total) CPU seconds of the whole machine so far, from /proc/stat."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    idle = v[3] + v[4]
    return (sum(v) - idle) / CLK_TCK, sum(v) / CLK_TCK


class PostgresCpu:
    """CPU seconds of the PostgreSQL server's processes during a run: every `postgres` process is
    sampled twice a second (a node's backend exits with its connection, taking its counters with
    it, so the last sample stands for it). Counts whatever else the server did meanwhile."""

    def __init__(self):
        self.first, self.last = {}, {}
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.loop, daemon=True)
        self.sample()
        self.baseline = set(self.first)
        self.thread.start()

    def sample(self):
        for pid in os.listdir("/proc"):
            if not pid.isdigit():
                continue
            try:
                with open(f"/proc/{pid}/comm") as f:
                    if f.read().strip() != "postgres":
                        continue
            except OSError:
                continue
            cpu = proc_cpu(pid)
            if cpu is not None:
                self.first.setdefault(pid, cpu)
                self.last[pid] = cpu

    def loop(self):
        while not self.stop.wait(0.5):
            self.sample()

    def seconds(self):
        self.stop.set()
        self.thread.join()
        self.sample()
        # A process that was there at the start counts from then; one born since, from zero.
        return sum(self.last[p] - (self.first[p] if p in self.baseline else 0) for p in self.last)


def take_log(port):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/_bench/log") as r:
        rows = []
        for line in r.read().decode().splitlines():
            host, path, start, end = line.split()
            rows.append((int(host), path, int(start) / 1e6, int(end) / 1e6))
        return rows


def audit_log(hits, pages_expected, delay_s):
    """From the sites' side: requests in flight on one origin at once (the most over all
    origins), the shortest time between two request starts on one origin, how many gaps were
    shorter than the delay (less 10 ms for the loopback's jitter), and pages fetched more than
    once or never."""
    by_host = {}
    for host, path, start, end in hits:
        by_host.setdefault(host, []).append((start, end))
    max_flight, min_gap, short = 0, float("inf"), 0
    for spans in by_host.values():
        events = sorted([(s, 1) for s, _ in spans] + [(e, -1) for _, e in spans], key=lambda x: (x[0], x[1]))
        n = 0
        for _, d in events:
            n += d
            max_flight = max(max_flight, n)
        starts = sorted(s for s, _ in spans)
        for a, b in zip(starts, starts[1:]):
            min_gap = min(min_gap, b - a)
            if b - a < delay_s - 0.010:
                short += 1
    counts = {}
    for host, path, _, _ in hits:
        if path.startswith("/p/"):
            counts[(host, path)] = counts.get((host, path), 0) + 1
    twice = sum(1 for c in counts.values() if c > 1)
    never = pages_expected - len(counts)
    robots = sum(1 for _, path, _, _ in hits if path == "/robots.txt")
    return {
        "requests": len(hits),
        "robots": robots,
        "max_flight": max_flight,
        "min_gap": min_gap,
        "short_gaps": short,
        "twice": twice,
        "never": never,
    }


def snapshot_counts(sqlite_path=None, server=None, schema=None):
    """Documents with no version and with more than one (after one pass over new pages, each has
    exactly one; none means it was not fetched, more than one that it was stored twice); None
    when the database cannot say (a node that failed to start)."""
    try:
        return count_versions(sqlite_path, server, schema)
    except (sqlite3.Error, subprocess.CalledProcessError):
        return None


def count_versions(sqlite_path, server, schema):
    sql = ("SELECT COALESCE(SUM(CASE WHEN n = 0 THEN 1 ELSE 0 END), 0), "
           "COALESCE(SUM(CASE WHEN n > 1 THEN 1 ELSE 0 END), 0) FROM (SELECT (SELECT COUNT(*) "
           "FROM snapshots s WHERE s.document_id = d.id) AS n FROM documents d) AS v")
    if sqlite_path:
        con = sqlite3.connect(sqlite_path)
        try:
            return tuple(con.execute(sql).fetchone())
        finally:
            con.close()
    none, more = psql(server, f"SET search_path = {schema}; {sql}").split("|")
    return int(none), int(more)


def run_nodes(govwatch, configs, out, label):
    """Starts one `govwatch check --all` per config at once; reaps them as they end. Returns the
    pass's wall time (until the last ends) and, per node, [wall, cpu, peak MiB, exit, checked,
    deferred]."""
    procs = {}
    start = time.monotonic()
    for i, cfg in enumerate(configs):
        log = open(os.path.join(out, f"{label}-node{i + 1}.log"), "wb")
        p = subprocess.Popen([govwatch, "--config", cfg, "check", "--all"], stdout=log, stderr=subprocess.STDOUT)
        procs[p.pid] = (i, log)
    nodes = [None] * len(configs)
    while procs:
        pid, status, usage = os.wait4(-1, 0)
        if pid not in procs:
            continue
        i, log = procs.pop(pid)
        log.close()
        nodes[i] = [time.monotonic() - start, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024,
                    os.waitstatus_to_exitcode(status)]
    wall = time.monotonic() - start
    for i, n in enumerate(nodes):
        with open(os.path.join(out, f"{label}-node{i + 1}.log"), errors="replace") as f:
            m = re.search(r"^checked (\d+):.* (\d+) deferred$", f.read(), re.M)
        # Deferred: counted as checked by govwatch, but not fetched (e.g. another node held the
        # origin for longer than a check waits for it).
        n += [int(m.group(1)), int(m.group(2))] if m else [-1, -1]
    return wall, nodes


def nodes_main(a):
    counts = [int(n) for n in a.nodes.split(",")]
    politeness = [p.strip() for p in a.politeness.split(",")]
    delay_s = parse_seconds(a.delay)
    shutil.rmtree(a.out, ignore_errors=True)
    os.makedirs(a.out)
    server = subprocess.Popen(
        [a.sites, "--hosts", str(a.hosts), "--port", str(a.port), "--latency-ms", str(a.latency_ms)],
        stdout=subprocess.PIPE,
    )
    if server.stdout.readline().strip() != b"ready":
        sys.exit("bench_sites did not start")
    urls = page_urls(a.hosts, a.pages, a.port)
    print(f"{len(urls)} pages over {a.hosts} hosts; politeness on: 1 request at a time per origin, "
          f"{a.delay} apart, robots.txt; off: 32 at once, no delay; sites hold each response "
          f"{a.latency_ms} ms", flush=True)
    results = []
    schemas = []
    try:
        for pol in politeness:
            polite = pol == "on"
            runs = [("sqlite", 1, False)] + ([("postgres", n, False) for n in counts] if a.postgres else [])
            if a.split and a.postgres and not polite:
                runs += [("postgres", n, True) for n in counts if n > 1]
            for backend, n, split in runs:
                label = f"{backend}-{n}-{pol}" + ("-split" if split else "")
                if backend == "sqlite":
                    db = os.path.join(a.out, f"{label}.db")
                    storage = f'path = "{db}"'
                else:
                    schema = f"bench_{os.getpid()}_{label.replace('-', '_')}"
                    psql(a.postgres, f"CREATE SCHEMA {schema}")
                    schemas.append(schema)
                    storage = f'url = "{schema_url(a.postgres, schema)}"'
                configs = []
                for i in range(n):
                    cfg = os.path.join(a.out, f"{label}-node{i + 1}.toml")
                    # Split: each node watches every n-th host only, as if the work were shared
                    # out by hand (or by claims that came in shares).
                    mine = [u for k, u in enumerate(urls) if k % a.hosts % n == i] if split else urls
                    nodes_config(cfg, storage, f"bench-{i + 1}", mine, polite, a.delay)
                    configs.append(cfg)
                take_log(a.port)
                pg_cpu = PostgresCpu() if backend == "postgres" else None
                sites_before = proc_cpu(server.pid) or 0.0
                busy_before, total_before = machine_busy()
                wall, nodes = run_nodes(a.govwatch, configs, a.out, label)
                busy_after, total_after = machine_busy()
                sites_cpu = (proc_cpu(server.pid) or 0.0) - sites_before
                server_cpu = pg_cpu.seconds() if pg_cpu else 0.0
                hits = take_log(a.port)
                with open(os.path.join(a.out, f"{label}-requests.tsv"), "w") as f:
                    f.writelines(f"{h}\t{p}\t{s:.6f}\t{e:.6f}\n" for h, p, s, e in hits)
                audit = audit_log(hits, len(urls), delay_s if polite else 0.0)
                if backend == "sqlite":
                    bad = snapshot_counts(sqlite_path=db)
                else:
                    bad = snapshot_counts(server=a.postgres, schema=schema)
                    psql(a.postgres, f"DROP SCHEMA {schema} CASCADE")
                    schemas.remove(schema)
                r = {
                    "label": label, "backend": backend, "n": n, "pol": pol + (", split" if split else ""),
                    "wall": wall,
                    "nodes": nodes, "sites_cpu": sites_cpu, "server_cpu": server_cpu,
                    "busy": (busy_after - busy_before) / wall, "audit": audit, "versions": bad,
                }
                results.append(r)
                print_nodes_run(r, flush=True)
    finally:
        server.kill()
        server.wait()
        for schema in schemas:
            try:
                psql(a.postgres, f"DROP SCHEMA IF EXISTS {schema} CASCADE")
            except subprocess.CalledProcessError:
                pass

    print()
    print(f"{'run':<30} {'pass s':>7} {'x SQLite':>8} {'node CPU s':>16} {'peak MiB':>10} "
          f"{'PG CPU s':>8} {'sites s':>7} {'cores':>5} {'in flight':>9} {'min gap s':>9} "
          f"{'short':>5} {'twice':>5} {'0 ver':>5} {'>1 ver':>6}")
    base = {r["pol"]: r for r in results if r["backend"] == "sqlite"}
    for r in results:
        b = base.get(r["pol"].split(",")[0])
        ratio = f"{r['wall'] / b['wall']:.2f}" if b else "-"
        cpu = "+".join(f"{n[1]:.1f}" for n in r["nodes"])
        rss = max(n[2] for n in r["nodes"])
        au = r["audit"]
        gap = f"{au['min_gap']:.3f}" if au["min_gap"] != float("inf") else "-"
        print(f"{r['backend'] + ', ' + str(r['n']) + ' node' + ('s' if r['n'] > 1 else '') + ', ' + r['pol']:<30} "
              f"{r['wall']:>7.1f} {ratio:>8} {cpu:>16} {rss:>10.1f} {r['server_cpu']:>8.1f} "
              f"{r['sites_cpu']:>7.1f} {r['busy']:>5.2f} {au['max_flight']:>9} {gap:>9} "
              f"{au['short_gaps']:>5} {au['twice']:>5} {versions(r, 0):>5} {versions(r, 1):>6}")
    print()
    for line in (
        "pass s: until the last node ended; x SQLite: that over one node on SQLite at the same politeness",
        "node CPU s: each node's (wait4); peak MiB: the largest node's; PG CPU s: the server's processes",
        "sites s: bench_sites' CPU; cores: the machine's busy cores on average (everything on it)",
        "in flight: most requests at once on one origin; min gap s: shortest time between two starts on",
        "one origin; short: such gaps under the delay less 10 ms; twice: pages fetched more than once;",
        "0 ver, >1 ver: documents with no version, with more than one, afterwards",
    ):
        print(line)
    for r in results:
        au = r["audit"]
        problems = []
        if any(n[3] != 0 for n in r["nodes"]):
            problems.append("a node exited with " + ",".join(str(n[3]) for n in r["nodes"]))
        if au["never"]:
            problems.append(f"{au['never']} pages never fetched")
        if r["pol"] == "on" and au["short_gaps"]:
            problems.append(f"{au['short_gaps']} starts on one origin closer than {a.delay}")
        if r["pol"] == "on" and au["max_flight"] > 1:
            problems.append(f"{au['max_flight']} requests at once on one origin")
        if au["twice"]:
            problems.append(f"{au['twice']} pages fetched more than once")
        if r["versions"] and r["versions"][1]:
            problems.append(f"{r['versions'][1]} documents stored more than once")
        if problems:
            print(f"note: {r['label']}: " + "; ".join(problems) + f" (see {a.out})")


def versions(r, k):
    return "?" if r["versions"] is None else r["versions"][k]


def print_nodes_run(r, flush=False):
    au = r["audit"]
    for i, (wall, cpu, rss, code, checked, deferred) in enumerate(r["nodes"]):
        print(f"{r['label']:<20} node {i + 1}: checked {checked:>6} ({deferred} deferred), {wall:7.1f} s, CPU {cpu:6.1f} s, "
              f"peak {rss:6.1f} MiB, exit {code}", flush=flush)
    print(f"{r['label']:<20} pass {r['wall']:.1f} s; {au['requests']} requests ({au['robots']} robots.txt), "
          f"PostgreSQL CPU {r['server_cpu']:.1f} s, sites CPU {r['sites_cpu']:.1f} s", flush=flush)


def parse_seconds(s):
    m = re.fullmatch(r"(\d+)(ms|s)", s)
    if not m:
        sys.exit(f"--delay: {s}: expected like 1s or 250ms")
    return float(m.group(1)) / (1000 if m.group(2) == "ms" else 1)


if __name__ == "__main__":
    main()
