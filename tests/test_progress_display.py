"""What the live display says while the work runs: the production check's own bar (each
recommendation checked, the time left), `--candidates all` summarizing the types it did not
simulate in one line, labels never cut; and the job's hook reports every check, with the same
answers as checking them all at once."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from irsim.present.progress import JobProgress, RecommendProgress, progress_console
from irsim.service.job import execute_job
from irsim.service.production import check_recommendations
from irsim.service.watch import Watch
from optimizer.events import CANDIDATES, PRUNED, SIZED, PlanEvent

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def test_recommend_summarizes_what_it_did_not_simulate_in_one_line():
    stream = io.StringIO()
    with RecommendProgress(progress_console(stream=stream, force=True)) as progress:
        progress(PlanEvent(CANDIDATES, total=125))
        progress(PlanEvent(SIZED, "ml.c5.large: 1 instance(s), P95 7.8 ms", "ml.c5.large"))
        for n in range(122):
            progress(PlanEvent(PRUNED, f"ml.x{n}.large: lower bound $9/hour", f"ml.x{n}.large"))
    text = stream.getvalue()
    assert text.count("not simulated (their lower-bound cost exceeds the answer)") == 1
    assert "122 type(s) not simulated" in text and "and 119 more" in text and "lower bound $9/hour" not in text
    assert "ml.c5.large: 1 instance(s)" in text


class Heard(Watch):
    def __init__(self) -> None:
        self.heard: list[tuple[str | None, int, int]] = []

    def checked(self, instance_type: str | None, done: int, total: int) -> None:
        self.heard.append((instance_type, done, total))


@pytest.mark.slow(reason="a job with its production check, drawn twice (1.6 s measured)")
def test_the_production_check_reports_each_recommendation_with_the_same_answers():
    request = json.loads((EXAMPLES / "seed-advanced-job.json").read_text())
    request["InputConfig"]["TrafficPattern"] = {"TrafficType": "PHASES", "Phases": [
        {"InitialNumberOfUsers": 1, "SpawnRate": 2, "DurationInSeconds": 180}]}
    watch = Heard()
    result = execute_job(request, "demo", seed=3, watch=watch, parallel=False)
    total = len(result.production)
    assert total >= 2 and watch.heard[0] == (None, 0, total)
    assert [done for _, done, _ in watch.heard[1:]] == list(range(1, total + 1))
    again = check_recommendations(result.spec, result.scheduled, result.profile, 3)
    assert repr(result.production) == repr(again)  # repr: a NaN field is equal to itself there


def test_the_job_display_draws_the_check_and_never_cuts_a_label():
    stream = io.StringIO()
    progress = JobProgress(progress_console(stream=stream, force=True))
    with progress:
        progress.checked(None, 0, 3)
        progress.checked("ml.c5.large", 1, 3)
    assert "production check" in stream.getvalue() and "1/3" in stream.getvalue()
