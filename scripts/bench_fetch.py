#!/usr/bin/env python3
"""Fetch benchmark driver (run by scripts/bench-fetch).

Starts examples/bench_sites (HTTP servers on 127.0.0.1..N), then measures, each as a child
process whose CPU time and peak memory come from wait4():

  1. govwatch, a full pass over HOSTS x PAGES watches, per-host politeness off;
  2. the same with politeness on (defaults: robots.txt, one request at a time per host, 1 s apart);
  3. govwatch and urlwatch on the same PEER_PAGES pages (spread over all hosts), first pass and
     second pass (pages unchanged), politeness off for govwatch (urlwatch has none).

Prints a table and the ratios. Never fails because the machine was slow.
"""

import argparse
import os
import shutil
import subprocess
import sys
import time


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
    ap.add_argument("--urlwatch", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--hosts", type=int, default=100)
    ap.add_argument("--pages", type=int, default=100, help="pages per host")
    ap.add_argument("--peer-pages", type=int, default=1000)
    ap.add_argument("--port", type=int, default=18080)
    ap.add_argument("--skip-polite", action="store_true", help="skip the politeness-on pass")
    a = ap.parse_args()

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


if __name__ == "__main__":
    main()
