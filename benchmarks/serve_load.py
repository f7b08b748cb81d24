"""Bounded load on `kinema serve` over loopback: throughput, latency percentiles, every job completes.

    .venv/bin/python benchmarks/serve_load.py                       # starts its own server + worker
    .venv/bin/python benchmarks/serve_load.py --clients 50 --requests 500 --json
    .venv/bin/python benchmarks/serve_load.py --url http://127.0.0.1:8000 --key kn-...   # a running one

`--clients` concurrent HTTP clients share a budget of `--requests` requests, each one a create
(POST /v1/videos), a retrieve (GET /v1/videos/{id}) or a list (GET /v1/videos), drawn by `--mix`.
Creates ask for the cheapest clip the server offers (the smallest size and duration, `--steps`
sampling steps) so that the workers keep up. After the budget is spent the script waits (up to
`--wait` seconds) until every accepted job (2xx on create) is completed, then prints throughput,
p50/p90/p99 latency per endpoint, errors by status, and how long the queue took to drain.

Without `--url` it starts a server and `--workers` workers of its own in a temporary KINEMA_HOME,
with rate limits raised above the load (a load test measures the server, not its 429s), and stops
them afterwards. Exit status 1 if any accepted job did not complete or any request got a 5xx.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import httpx2 as httpx
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

ROOT = Path(__file__).resolve().parent.parent
KINEMA = ROOT / ".venv" / "bin" / "kinema"
ENDPOINTS = ("create", "retrieve", "list")


@dataclass
class Record:
    endpoint: str
    status: int  # 0: no response (connection error, timeout)
    seconds: float


@dataclass
class Results:
    records: list[Record] = field(default_factory=list)
    accepted: list[str] = field(default_factory=list)  # ids of jobs created with a 2xx
    wall_seconds: float = 0.0
    warmup_seconds: float = 0.0
    drain_seconds: float = 0.0
    final_status: Counter = field(default_factory=Counter)  # accepted jobs by their last status
    failures: list[dict[str, Any]] = field(default_factory=list)  # errors of jobs that failed


def parse_mix(text: str) -> dict[str, float]:
    """'create=0.2,retrieve=0.5,list=0.3' -> weights; each name once, all >= 0, some > 0."""
    weights: dict[str, float] = {}
    for part in text.split(","):
        name, _, value = part.partition("=")
        name = name.strip()
        if name not in ENDPOINTS:
            raise SystemExit(f"--mix: unknown endpoint {name!r}; use {', '.join(ENDPOINTS)}, e.g. create=0.2,retrieve=0.5,list=0.3")
        try:
            weights[name] = float(value)
        except ValueError:
            raise SystemExit(f"--mix: {part!r} is not name=weight") from None
        if weights[name] < 0:
            raise SystemExit(f"--mix: weight of {name} is negative")
    if not any(weights.values()):
        raise SystemExit("--mix: at least one weight must be positive")
    return {name: weights.get(name, 0.0) for name in ENDPOINTS}


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0-100), linear between closest ranks, as numpy's default."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    position = (len(ordered) - 1) * q / 100.0
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


# ---- a server of our own ---------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def own_server(workers: int, console: Console) -> Iterator[tuple[str, str]]:
    """A fresh `kinema serve` + workers in a temporary KINEMA_HOME; yields (url, key)."""
    home = Path(tempfile.mkdtemp(prefix="kinema-load-"))
    env = {**os.environ, "KINEMA_HOME": str(home), "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
    created = subprocess.run([str(KINEMA), "keys", "create", "load-test"], env=env, capture_output=True, text=True)
    lines = created.stdout.strip().splitlines()
    if created.returncode != 0 or not lines or not lines[-1].startswith("kn-"):
        raise SystemExit(f"kinema keys create failed:\n{created.stdout}{created.stderr}")
    key = lines[-1].strip()  # printed once, on the last line
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    # Limits above anything this load can reach: we measure throughput, not the rate limiter.
    limits = ["--rate-limit", "1000000", "--max-active-jobs", "100000"]
    logs = open(home / "processes.log", "wb")
    processes = [subprocess.Popen([str(KINEMA), "serve", "--host", "127.0.0.1", "--port", str(port),
                                   "--workers", str(workers), *limits], env=env, stdout=logs, stderr=subprocess.STDOUT)]
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"{url}/v1/kinema/options", headers={"Authorization": f"Bearer {key}"}, timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline or processes[0].poll() is not None:
                raise SystemExit(f"the server did not start; its log:\n{(home / 'processes.log').read_text()[-3000:]}")
            time.sleep(0.3)
        console.print(f"[dim]server {url}, {workers} worker(s), KINEMA_HOME={home}[/dim]")
        yield url, key
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
        logs.close()
        shutil.rmtree(home, ignore_errors=True)


# ---- the load --------------------------------------------------------------------------------


async def run_load(url: str, key: str, args: argparse.Namespace, console: Console) -> Results:
    headers = {"Authorization": f"Bearer {key}"}
    limits = httpx.Limits(max_connections=args.clients, max_keepalive_connections=args.clients)
    async with httpx.AsyncClient(base_url=url, headers=headers, limits=limits, timeout=args.timeout) as client:
        options = (await client.get("/v1/kinema/options")).raise_for_status().json()
        size = min(options["sizes"], key=lambda s: _area(_value(s)))
        seconds = min(options["seconds"], key=lambda s: float(_value(s)))
        form = {"prompt": "", "size": _value(size), "seconds": str(_value(seconds))}
        if args.steps:
            form["steps"] = str(args.steps)
        prompts = ["a small red ball bounces to the right", "a large blue square slides to the left",
                   "a green triangle falls down", "two yellow circles roll right"]
        mix = parse_mix(args.mix)
        names, weights = list(mix), list(mix.values())
        rng = random.Random(args.seed)
        results = Results()
        budget = iter(range(args.requests))

        # Warm-up, not measured: the first create loads the prompt moderation's classifier and the
        # prompt enhancer in the API process; a cold start is not what a load test measures.
        warm_start = time.perf_counter()
        fields = {**form, "prompt": prompts[0]}
        warm = (await client.post("/v1/videos", files={k: (None, v) for k, v in fields.items()})).raise_for_status()
        results.accepted.append(warm.json()["id"])
        (await client.get(f"/v1/videos/{results.accepted[0]}")).raise_for_status()
        (await client.get("/v1/videos", params={"limit": 20})).raise_for_status()
        results.warmup_seconds = time.perf_counter() - warm_start

        progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                            console=console, transient=True, disable=args.json)
        with progress:
            task = progress.add_task("requests", total=args.requests)

            async def one_client() -> None:
                for _ in budget:
                    endpoint = rng.choices(names, weights)[0]
                    if endpoint == "retrieve" and not results.accepted:
                        endpoint = "create"  # nothing to retrieve yet
                    start = time.perf_counter()
                    status = 0
                    try:
                        if endpoint == "create":
                            # multipart/form-data, as openai-python sends it: (None, value) is a plain field.
                            fields = {**form, "prompt": rng.choice(prompts)}
                            response = await client.post("/v1/videos", files={k: (None, v) for k, v in fields.items()})
                            if response.is_success:
                                results.accepted.append(response.json()["id"])
                        elif endpoint == "retrieve":
                            response = await client.get(f"/v1/videos/{rng.choice(results.accepted)}")
                        else:
                            response = await client.get("/v1/videos", params={"limit": 20, "order": "desc"})
                        status = response.status_code
                    except httpx.TransportError:
                        pass
                    results.records.append(Record(endpoint, status, time.perf_counter() - start))
                    progress.advance(task)

            started = time.perf_counter()
            await asyncio.gather(*(one_client() for _ in range(args.clients)))
            results.wall_seconds = time.perf_counter() - started

            # Drain: every accepted job must reach completed (or failed, which is reported).
            pending = set(results.accepted)
            drain = progress.add_task("jobs completed", total=len(pending))
            drain_start = time.perf_counter()
            deadline = time.monotonic() + args.wait
            last: dict[str, dict[str, Any]] = {}
            while pending and time.monotonic() < deadline:
                async def check(video_id: str) -> None:
                    response = await client.get(f"/v1/videos/{video_id}")
                    if response.is_success:
                        last[video_id] = response.json()
                        if last[video_id]["status"] in ("completed", "failed"):
                            pending.discard(video_id)

                await asyncio.gather(*(check(v) for v in list(pending)[: args.clients]))
                progress.update(drain, completed=len(results.accepted) - len(pending))
                if pending:
                    await asyncio.sleep(0.5)
            results.drain_seconds = time.perf_counter() - drain_start
        for video_id in results.accepted:
            status = last.get(video_id, {}).get("status", "unknown")
            if video_id in pending:
                status += " (timed out)"
            results.final_status[status] += 1
            if status == "failed":
                results.failures.append({"id": video_id, "error": last[video_id].get("error")})
    return results


def _value(option: Any) -> Any:
    return option.get("id", option.get("value")) if isinstance(option, dict) else option


def _area(size: str) -> int:
    width, height = (int(v) for v in str(size).split("x"))
    return width * height


# ---- report ----------------------------------------------------------------------------------


def summarize(results: Results, args: argparse.Namespace) -> dict[str, Any]:
    by_endpoint: dict[str, list[Record]] = defaultdict(list)
    for record in results.records:
        by_endpoint[record.endpoint].append(record)
    endpoints = {}
    for name in ENDPOINTS:
        records = by_endpoint.get(name, [])
        if not records:
            continue
        ok = [r.seconds * 1000 for r in records if 200 <= r.status < 300]
        endpoints[name] = {
            "requests": len(records),
            "ok": len(ok),
            "p50_ms": round(percentile(ok, 50), 1),
            "p90_ms": round(percentile(ok, 90), 1),
            "p99_ms": round(percentile(ok, 99), 1),
            "max_ms": round(max(ok), 1) if ok else None,
            "statuses": dict(sorted(Counter(r.status for r in records).items())),
        }
    errors = Counter(r.status for r in results.records if not 200 <= r.status < 300)
    return {
        "clients": args.clients,
        "requests": len(results.records),
        "wall_seconds": round(results.wall_seconds, 2),
        "warmup_seconds": round(results.warmup_seconds, 2),
        "throughput_rps": round(len(results.records) / results.wall_seconds, 1) if results.wall_seconds else None,
        "endpoints": endpoints,
        "errors_by_status": {str(k): v for k, v in sorted(errors.items())},
        "accepted_jobs": len(results.accepted),
        "jobs_by_final_status": dict(results.final_status),
        "drain_seconds": round(results.drain_seconds, 2),
        "job_failures": results.failures[:10],
        "all_accepted_completed": results.final_status.get("completed", 0) == len(results.accepted),
        "server_errors": sum(v for k, v in errors.items() if k >= 500),
    }


def print_table(summary: dict[str, Any], console: Console) -> None:
    table = Table(title=f"kinema serve under load: {summary['clients']} clients, {summary['requests']} requests "
                        f"in {summary['wall_seconds']} s = {summary['throughput_rps']} req/s")
    for column in ("endpoint", "requests", "2xx", "p50 ms", "p90 ms", "p99 ms", "max ms", "statuses"):
        table.add_column(column, justify="left" if column in ("endpoint", "statuses") else "right")
    for name, row in summary["endpoints"].items():
        table.add_row(name, str(row["requests"]), str(row["ok"]), f"{row['p50_ms']:.1f}", f"{row['p90_ms']:.1f}",
                      f"{row['p99_ms']:.1f}", f"{row['max_ms']:.1f}" if row["max_ms"] is not None else "-",
                      ", ".join(f"{k}: {v}" for k, v in row["statuses"].items()))
    console.print(table)
    console.print(f"errors by status: {summary['errors_by_status'] or 'none'} "
                  f"(after a {summary['warmup_seconds']} s warm-up: one create, retrieve and list, not counted)")
    verdict = "[green]all completed[/green]" if summary["all_accepted_completed"] else "[red]NOT all completed[/red]"
    console.print(f"accepted jobs: {summary['accepted_jobs']}, final status {summary['jobs_by_final_status']}: "
                  f"{verdict}; queue drained {summary['drain_seconds']} s after the last request")
    for failure in summary["job_failures"]:
        console.print(f"[red]failed[/red] {failure['id']}: {failure['error']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     epilog=__doc__.split("\n\n", 1)[1], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=50, help="concurrent clients (default 50)")
    parser.add_argument("--requests", type=int, default=500, help="requests in all (default 500)")
    parser.add_argument("--mix", default="create=0.1,retrieve=0.6,list=0.3",
                        help="endpoint weights (default create=0.1,retrieve=0.6,list=0.3)")
    parser.add_argument("--steps", type=int, default=2, help="sampling steps of each created job (default 2: cheap)")
    parser.add_argument("--wait", type=float, default=600, help="seconds to wait for the jobs to complete (default 600)")
    parser.add_argument("--timeout", type=float, default=60, help="per-request timeout in seconds (default 60)")
    parser.add_argument("--workers", type=int, default=1, help="workers of the server this script starts (default 1)")
    parser.add_argument("--url", help="a running server instead of one of our own (needs --key)")
    parser.add_argument("--key", help="API key for --url")
    parser.add_argument("--seed", type=int, default=0, help="seed of the request mix")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON only")
    args = parser.parse_args()
    for name in ("clients", "requests", "workers"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be at least 1")
    if bool(args.url) != bool(args.key):
        parser.error("--url and --key go together (without both, the script starts its own server)")
    console = Console(stderr=args.json)

    if args.url:
        results = asyncio.run(run_load(args.url.rstrip("/"), args.key, args, console))
    else:
        with own_server(args.workers, console) as (url, key):
            results = asyncio.run(run_load(url, key, args, console))
    summary = summarize(results, args)
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        print_table(summary, console)
    sys.exit(0 if summary["all_accepted_completed"] and not summary["server_errors"] else 1)


if __name__ == "__main__":
    main()
