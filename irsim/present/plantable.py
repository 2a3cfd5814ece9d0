"""The console table of a recommendation (`irsim recommend`): the alternatives best first, with
the interval and flags the AWS shape cannot carry, fitted to the console's 100 columns unless
the caller asks for the wide view."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from irsim.present.tables import CONSOLE_COLUMNS, PER_MILLION, fitted, wrapped
from irsim.service.labels import detail_label


def plan_table(document: Mapping[str, Any], whole_answer: str = "the JSON answer", wide: bool = False) -> str:
    """The recommendations best first, with the interval and flags the AWS shape cannot carry
    (``whole_answer``: where the types not simulated are listed, as the caller words it)."""
    target = document["Target"]
    percentile = target["Percentile"]
    lines = [f"Target: {target['InvocationsPerMinute']:,.0f} invocations/min, {percentile} <= "
             f"{target['ValueInMilliseconds']:g} ms, {target['Traffic']} traffic, {target['Routing']} routing"]
    items: dict[str, Mapping[str, Any]] = {}
    for item in document["InferenceRecommendations"]:
        items.setdefault(item["RecommendationId"], item)
    answered = any(detail["Verified"] for detail in document["Details"])
    if not answered:  # said first: the rows below are for comparison, none is an answer
        lines += ["", *fitted(list(document["Explanation"]), wide)]
    lines += _rows(document, items, percentile, wide)
    prose = []
    if len(document["Details"]) > 1 and document.get("Ranking"):
        prose.append(f"Order: {document['Ranking']}.")
    if answered:
        prose += document["Explanation"]
    prose += [f"WARNING {warning}" for warning in document.get("Warnings", [])]
    for entry in document["Infeasible"]:
        what = entry.get("InstanceType") or f"serverless {entry.get('ServerlessConfig', {}).get('MemorySizeInMB')} MB"
        prose.append(f"INFEASIBLE {what}: {entry['Reason']}")
    if document["NotSimulated"]:
        prose.append(f"{len(document['NotSimulated'])} type(s) not simulated: their lower-bound cost already exceeds "
                     f"the answer (see {whole_answer})")
    runs = document["Simulations"]
    prose.append(f"simulations: {runs['run']} run ({runs['without_prescreen']} without the pre-screen), "
                 f"{runs['verifications']} verification(s)")
    return "\n".join(lines + fitted(prose, wide))


def _rows(document: Mapping[str, Any], items: Mapping[str, Mapping[str, Any]], percentile: str,
          wide: bool) -> list[str]:
    """The header and one row per alternative (the mark and serverless throttling under it)."""
    details = document["Details"]
    if not details:
        return []
    labels = [detail_label(detail) for detail in details]
    longest = max(len("endpoint"), *(len(label) for label in labels))
    width = longest if wide else max(12, min(longest, CONSOLE_COLUMNS - 78))
    header = (f"{'#':>2}  {'endpoint':<{width}} {'$/hour':>7} {'$/M inf':>8} {percentile + ' ms':>7} "
              f"{'95% interval':>16} {'util':>5}  calib.  {'price':<11} {'score':>5}")
    lines = ["", header, "-" * len(header)]
    for position, (detail, label) in enumerate(zip(details, labels, strict=True), start=1):
        metrics = items[detail["RecommendationId"]]["Metrics"]
        utilization = "-" if detail["Utilization"] is None else f"{detail['Utilization']:.0%}"
        low, high = detail[percentile]["ConfidenceInterval95"]
        mark = ("<- verified cheapest" if detail["Verified"]
                else "(outside the limits: for comparison)" if detail.get("WithinLimits") is False else "")
        score = detail.get("RankScore")
        parts = wrapped(label, width)
        row = (f"{position:>2}  {parts[0]:<{width}} {metrics['CostPerHour']:>7.3f} "
               f"{metrics['CostPerInference'] * 1e6:>8.3f} {detail[percentile]['Milliseconds']:>7.2f} "
               f"{f'[{low:.2f}, {high:.2f}]':>16} {utilization:>5}  {'yes' if detail['Calibrated'] else 'NO':<6}  "
               f"{','.join(detail['PriceConfidence']):<11} {'-' if score is None else f'{score:.2f}':>5}")
        lines.append(row + (f"  {mark}" if mark and wide else ""))
        under = parts[1:] + ([mark] if mark and not wide else [])
        lines += [f"    {text}" for text in under]
        if detail.get("ServerlessConfig") and detail.get("ThrottledShareSteady") is not None:
            lines += fitted([f"    {throttling(detail)}"], wide)
    return [*lines, "", PER_MILLION]


def throttling(detail: Mapping[str, Any]) -> str:
    """A serverless row's throttling: steady state (simulated, with its interval and verdict, and
    the sizing law's figure) and the first minute from cold, with the MaxConcurrency that would
    surely keep that minute in bounds."""
    first_minute = detail.get("ThrottledShareFirstMinute")
    steady = _share_bounds(detail.get("ThrottledShareSteadyInterval"))
    text = (f"throttled: {detail['ThrottledShareSteady']:.2%}{steady} at steady state (the sizing law with cold "
            f"starts: {detail.get('ThrottledSharePredicted', float('nan')):.2%})")
    if first_minute is not None:
        enough = detail.get("MaxConcurrencyFirstMinute")
        text += (f"; {first_minute:.2%}{_share_bounds(detail.get('ThrottledShareFirstMinuteInterval'))} in the first "
                 "minute from cold"
                 + (f" (MaxConcurrency {enough} surely keeps it within 0.1%)" if enough else
                    " (no MaxConcurrency up to 200 surely keeps it within 0.1%)"))
    return text


def _share_bounds(interval: Mapping[str, Any] | None) -> str:
    """`` [low, high: verdict]`` of a simulated share (nothing for a document without one)."""
    if not interval:
        return ""
    return f" [{interval['Low']:.2%}, {interval['High']:.2%}: {interval['Verdict']}]"
