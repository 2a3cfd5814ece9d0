"""Which HTTP client drives `irsim measure`'s virtual users: the client-side CPU per request
of aiohttp and httpx (both asyncio), measured in this process against the sample server, with
the same closed loop (N users, each posting the next sample payload as soon as its answer
came). Prints each client's requests per second and CPU microseconds per request, and the
ratio to aiohttp's (the baseline, run in the same process).

The server: the sample model at its cheapest (1 layer of 1 unit, no wait), one gunicorn
worker pinned to core 0; the clients pinned to core 1 (when the machine has two cores).

Usage: .venv/bin/python experiments/measure_loadgen.py [--seconds 5] [--users 4] [--rounds 3]
(needs the bench extra for httpx: pip install -e '.[bench]')."""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import subprocess
import sys
import time
import urllib.request
from importlib import metadata

import aiohttp
import httpx

from irsim.measure.sample_model import sample_bodies

PORT = 18_097
HEADERS = {"Content-Type": "text/csv"}


async def _aiohttp(url: str, users: int, seconds: float) -> int:
    bodies, sent, done = sample_bodies(0), itertools.count(), [0]
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
        async def user() -> None:
            end = time.perf_counter() + seconds
            while time.perf_counter() < end:
                async with session.post(url, data=bodies[next(sent) % len(bodies)], headers=HEADERS) as response:
                    await response.read()
                done[0] += 1
        await asyncio.gather(*(user() for _ in range(users)))
    return done[0]


async def _httpx(url: str, users: int, seconds: float) -> int:
    bodies, sent, done = sample_bodies(0), itertools.count(), [0]
    limits = httpx.Limits(max_connections=None, max_keepalive_connections=None)
    async with httpx.AsyncClient(limits=limits, timeout=60) as client:
        async def user() -> None:
            end = time.perf_counter() + seconds
            while time.perf_counter() < end:
                response = await client.post(url, content=bodies[next(sent) % len(bodies)], headers=HEADERS)
                response.read()
                done[0] += 1
        await asyncio.gather(*(user() for _ in range(users)))
    return done[0]


def measure(client, url: str, users: int, seconds: float) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    """(requests per second, client CPU microseconds per request)."""
    cpu, wall = time.process_time(), time.perf_counter()
    requests = asyncio.run(client(url, users, seconds))
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    return requests / wall, 1e6 * cpu / requests


def start_server() -> subprocess.Popen[bytes]:
    server = subprocess.Popen([sys.executable, "-m", "irsim.measure.sample_server", "--port", str(PORT), "--cpus", "0",
                               "--hidden", "1", "--layers", "1", "--io-ms", "0"], stderr=subprocess.DEVNULL)
    for _ in range(240):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{PORT}/ping", timeout=1) as reply:
                if reply.status == 200:
                    return server
        except OSError:
            time.sleep(0.25)
    server.kill()
    raise SystemExit("the sample server did not answer /ping")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--users", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    server = start_server()
    if len(os.sched_getaffinity(0)) > 1:
        os.sched_setaffinity(0, {max(os.sched_getaffinity(0))})
    url = f"http://127.0.0.1:{PORT}/invocations"
    clients = {f"aiohttp {metadata.version('aiohttp')}": _aiohttp, f"httpx {metadata.version('httpx')}": _httpx}
    results: dict[str, list[tuple[float, float]]] = {name: [] for name in clients}
    try:
        for _ in range(args.rounds):  # interleaved, so the machine's other load falls on both alike
            for name, client in clients.items():
                results[name].append(measure(client, url, args.users, args.seconds))
    finally:
        server.terminate()
        server.wait(timeout=30)
    baseline = min(cpu for _, cpu in results[next(iter(clients))])
    print(f"{args.users} users, {args.seconds:g} s x {args.rounds} rounds, load average {os.getloadavg()[0]:.2f}")
    print(f"{'client':<16} {'requests/s (best)':>18} {'CPU us/request (best)':>22} {'ratio to aiohttp':>17}")
    for name, rows in results.items():
        best_rate, best_cpu = max(r for r, _ in rows), min(c for _, c in rows)
        print(f"{name:<16} {best_rate:>18,.0f} {best_cpu:>22,.0f} {best_cpu / baseline:>17.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
