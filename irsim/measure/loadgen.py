"""The load generator: Inference Recommender's closed-loop virtual users on one asyncio event
loop, each sending the next payload to ``/invocations`` as soon as its previous answer came
(aiohttp: docs/measure.md gives the measured per-request overhead that chose it), following
the traffic pattern's user counts in real time. Every wall-clock minute is closed and judged
(irsim.measure.live); Ctrl-C (SIGINT) ends the test as StopInferenceRecommendationsJob does,
keeping the minutes measured.

A request's ModelLatency is the client's time around the call (listen-queue wait included, as
SageMaker's ModelLatency includes the container's queueing); its OverheadLatency is the time
its user spent between the previous answer and this request (the closed loop's overhead, as
the simulator and calibration read it)."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import math
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import aiohttp
import numpy as np

from irsim.errors import UserError
from irsim.measure.live import (
    Clock,
    GeneratorLoad,
    MeasuredMinute,
    RequestBatch,
    Verdict,
    close_minute,
    generator_load,
    judge,
)
from irsim.measure.machine import ServerProcesses
from irsim.measure.payloads import Payloads
from simulator.stopping import JOB_STOPPED, TRAFFIC_ENDED, StoppingConditions
from simulator.traffic import Phases, Stairs

LAG_PROBE_S = 0.01        # how often the event loop's lag is probed
RETRY_AFTER_FAILURE_S = 0.05  # a user whose request got no answer waits this long before the next
MinuteListener = Callable[[MeasuredMinute], None]


@dataclass(frozen=True)
class TestPlan:
    """What one measured load test runs."""

    endpoint_url: str
    payloads: Payloads
    traffic: Phases | Stairs
    stopping: StoppingConditions      # as the request states them (the clock scales MaxInvocations)
    percentile: float | None          # the latency threshold's percentile (None: no threshold)
    clock: Clock = field(default_factory=Clock)
    timeout_s: float = 60.0

    @property
    def invocations_url(self) -> str:
        return self.endpoint_url.rstrip("/") + "/invocations"


@dataclass
class TestRun:
    """What a test measured: its minutes (the last may be partial) and why it ended."""

    minutes: list[MeasuredMinute]
    verdict: Verdict
    wall_s: float
    started: datetime
    ended: datetime
    requests: int


@dataclass
class _Recorder:
    """Every request's end (offset from the test's start), latency, overhead and status."""

    rows: list[tuple[float, float, float, int]] = field(default_factory=list)
    first_error: str | None = None
    total: int = 0

    def add(self, ended_s: float, latency_s: float, overhead_s: float, status: int, error: str | None) -> None:
        self.rows.append((ended_s, latency_s, overhead_s, status))
        self.total += 1
        if error is not None and self.first_error is None:
            self.first_error = error

    def take(self, boundary_s: float) -> RequestBatch:
        """The requests that ended before ``boundary_s``; the rest stay for the next minute."""
        inside = [r for r in self.rows if r[0] < boundary_s]
        self.rows = [r for r in self.rows if r[0] >= boundary_s]
        answered = [r for r in inside if r[3] > 0]
        overhead = np.array([r[2] for r in inside if math.isfinite(r[2])])
        error, self.first_error = self.first_error, None
        return RequestBatch(latency_s=np.array([r[1] for r in answered]), overhead_s=overhead,
                            status=np.array([r[3] for r in answered], dtype=int), failed=len(inside) - len(answered),
                            first_error=error)


class _Users:
    """The virtual users: user k runs while the traffic asks for more than k users."""

    def __init__(self, start: Callable[[int], asyncio.Task[None]]) -> None:
        self.start = start
        self.target = 0
        self.tasks: dict[int, asyncio.Task[None]] = {}

    def resize(self, users: int) -> None:
        self.target = users
        for index in range(users):
            task = self.tasks.get(index)
            if task is None or task.done():
                self.tasks[index] = self.start(index)

    async def stop(self) -> None:
        self.target = 0
        for task in self.tasks.values():
            task.cancel()
        await asyncio.gather(*self.tasks.values(), return_exceptions=True)


class _Probe:
    """The generator's own load: CPU time of this process and the event loop's lag (how long
    a ready callback waits for its turn), read per minute."""

    def __init__(self) -> None:
        self.lags: list[float] = []
        self.cpu = time.process_time()

    async def run(self) -> None:
        while True:
            await asyncio.sleep(LAG_PROBE_S)
            began = time.perf_counter()
            await asyncio.sleep(0)
            self.lags.append(time.perf_counter() - began)

    def minute(self, seconds: float, requests: int, mean_latency_s: float) -> GeneratorLoad:
        cpu = time.process_time()
        load = generator_load(cpu - self.cpu, seconds, requests, self.lags, mean_latency_s)
        self.cpu, self.lags = cpu, []
        return load


class _Resources:
    """The server's CPU seconds at each minute's close and its memory sampled during it."""

    def __init__(self, server: ServerProcesses | None, minute_s: float) -> None:
        self.server = server
        self.every_s = max(0.25, minute_s / 6.0)
        self.memory: list[float] = []
        self.cpu = server.cpu_seconds() if server else math.nan

    async def run(self) -> None:
        while self.server is not None:
            self.memory.append(await asyncio.to_thread(self.server.memory_percent))
            await asyncio.sleep(self.every_s)

    def minute(self, seconds: float) -> tuple[float, float]:
        """(CPUUtilization, MemoryUtilization) of the minute; NaN without a server to read."""
        if self.server is None:
            return math.nan, math.nan
        cpu = self.server.cpu_seconds()
        used = 100.0 * (cpu - self.cpu) / seconds if seconds > 0 else math.nan
        samples = [m for m in self.memory if math.isfinite(m)] or [self.server.memory_percent()]
        self.cpu, self.memory = cpu, []
        return used, float(np.mean(samples))


class _Test:
    """One run of a plan: the users, the recorder, the probes and the minute clock."""

    def __init__(self, plan: TestPlan, server: ServerProcesses | None, on_minute: MinuteListener | None) -> None:
        self.plan, self.on_minute = plan, on_minute
        self.recorder = _Recorder()
        self.probe = _Probe()
        self.resources = _Resources(server, plan.clock.minute_s)
        self.stopping = plan.clock.stopping(plan.stopping)
        self.sent = itertools.count()
        self.history: list[MeasuredMinute] = []
        self.started = 0.0

    async def user(self, session: aiohttp.ClientSession, index: int, users: _Users) -> None:
        plan, record = self.plan, self.recorder.add
        headers = {"Content-Type": plan.payloads.content_type, "Accept": "*/*"}
        last_end = math.nan
        while index < users.target:
            body = plan.payloads.body(next(self.sent))
            began = time.perf_counter()
            error = None
            try:
                async with session.post(plan.invocations_url, data=body, headers=headers) as response:
                    text = await response.read()
                    status = response.status
                if status >= 400:
                    error = f"{status} {text[:120].decode(errors='replace').strip()}"
            except (TimeoutError, aiohttp.ClientError, OSError) as exc:
                status, error = 0, f"no answer ({type(exc).__name__}: {exc})"[:160]
            ended = time.perf_counter()
            record(ended - self.started, ended - began, began - last_end, status, error)
            last_end = ended
            if status == 0:
                await asyncio.sleep(RETRY_AFTER_FAILURE_S)
                last_end = math.nan

    def close(self, index: int, start_s: float, seconds: float) -> MeasuredMinute:
        plan = self.plan
        batch = self.recorder.take(start_s + seconds)
        stats, summary = close_minute(index, start_s, seconds, batch, plan.traffic, plan.clock, plan.percentile)
        cpu, memory = self.resources.minute(seconds)
        generator = self.probe.minute(seconds, len(batch.latency_s) + batch.failed, stats.latency_s[0])
        return MeasuredMinute(stats=stats, summary=summary, errors_4xx=int(((batch.status >= 400) &
                                                                           (batch.status < 500)).sum()),
                              errors_5xx=int((batch.status >= 500).sum()), failed=batch.failed,
                              first_error=batch.first_error, cpu_percent=cpu, memory_percent=memory,
                              generator=generator)

    async def clock(self, stop: asyncio.Event, loop_start: float) -> Verdict:
        """Close each minute at its boundary (or where Ctrl-C cut it) and judge it."""
        loop = asyncio.get_running_loop()
        minute_s, duration = self.plan.clock.minute_s, self.plan.traffic.duration_s * self.plan.clock.scale
        index = 0
        while True:
            start, boundary = index * minute_s, min((index + 1) * minute_s, duration)
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=max(0.0, loop_start + boundary - loop.time()))
            end = min(time.perf_counter() - self.started, boundary) if stop.is_set() else boundary
            if end - start > 1e-6:
                self.history.append(self.close(index, start, end - start))
                if self.on_minute is not None:
                    self.on_minute(self.history[-1])
            if stop.is_set():
                return Verdict(JOB_STOPPED)
            verdict = judge(self.history, self.stopping)
            if verdict is not None:
                return verdict
            if boundary >= duration - 1e-9:
                return Verdict(TRAFFIC_ENDED)
            index += 1

    async def run(self) -> TestRun:
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(signal.SIGINT, stop.set)
        connector = aiohttp.TCPConnector(limit=0, force_close=False)
        timeout = aiohttp.ClientTimeout(total=self.plan.timeout_s)
        started = datetime.now(UTC)
        try:
            async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
                helpers = [asyncio.create_task(self.probe.run()), asyncio.create_task(self.resources.run())]
                users = _Users(lambda index: asyncio.create_task(self.user(session, index, users)))
                loop_start, self.started = loop.time(), time.perf_counter()
                for offset_s, count in self.plan.traffic.user_changes():
                    loop.call_at(loop_start + offset_s * self.plan.clock.scale, users.resize, count)
                verdict = await self.clock(stop, loop_start)
                wall = time.perf_counter() - self.started
                await users.stop()
                for helper in helpers:
                    helper.cancel()
                await asyncio.gather(*helpers, return_exceptions=True)
        finally:
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.remove_signal_handler(signal.SIGINT)
        return TestRun(minutes=self.history, verdict=verdict, wall_s=wall, started=started,
                       ended=datetime.now(UTC), requests=self.recorder.total)


def run_test(plan: TestPlan, server: ServerProcesses | None = None,
             on_minute: MinuteListener | None = None) -> TestRun:
    """Run the plan's traffic against the endpoint in real time until a stopping condition,
    the end of the traffic, or Ctrl-C."""
    return asyncio.run(_Test(plan, server, on_minute).run())


async def _ping(url: str, timeout_s: float) -> tuple[int, str]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout_s)) as session, \
            session.get(url.rstrip("/") + "/ping") as response:
        return response.status, (await response.read())[:120].decode(errors="replace").strip()


def check_ping(url: str, timeout_s: float = 10.0) -> None:
    """GET /ping must answer 200 (the container contract) before any load is sent; one line
    naming --endpoint-url otherwise."""
    try:
        status, text = asyncio.run(_ping(url, timeout_s))
    except (TimeoutError, aiohttp.ClientError, OSError, ValueError) as exc:
        detail = str(exc) or type(exc).__name__
        raise UserError(f"--endpoint-url: {url} does not answer GET /ping ({detail})") from None
    if status != 200:
        raise UserError(f"--endpoint-url: GET {url.rstrip('/')}/ping answered {status}"
                        + (f" ({text})" if text else "") + "; a SageMaker container answers 200 when healthy")
