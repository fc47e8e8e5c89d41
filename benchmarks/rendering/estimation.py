"""The "Cheaper performance estimation" blocks of BENCHMARKS.md, one per dataset, from benchmarks/estimation/run.py.

Everything here, the "Reading it" paragraph included, is computed from
benchmarks/results/estimation_<dataset>.json, so a rerun cannot leave stale prose behind. The
only numbers typed here are the targets the methods are judged against.
"""

from __future__ import annotations

import json
import statistics
from fractions import Fraction
from typing import Any

from benchmarks.rendering.results import load_result, split_size

LABELS = {
    "random": "random, full training",
    "successive_halving": "successive halving",
    "hyperband": "Hyperband",
    "oneshot": "one-shot (SPOS) + top-{top_k} retrained",
    "darts": "DARTS + argmax retrained",
}
MULTI_FIDELITY = ("successive_halving", "hyperband")
WEIGHT_SHARING = ("oneshot", "darts")
EPOCH_SHARE_TARGET = Fraction(1, 3)  # a multi-fidelity method's training epochs over random search's, at most
POINTS_TARGET = 0.5  # and its winner's test accuracy at most this many points below random search's
STANDALONE_TARGET = 5  # the whole one-shot search must cost less than this many stand-alone trainings
SIGNIFICANCE = 0.05


def _compare(delta: float, test_size: int | None) -> str:
    """A winner's test accuracy against random search's, in points and, when the split size is known, examples."""
    if abs(delta) < 1e-9:
        return "tests the same as"
    text = f"tests {100 * abs(delta):.2f} points"
    if test_size is not None:
        count = round(abs(delta) * test_size)
        text += f" ({count} test example{'' if count == 1 else 's'})"
    return f"{text} {'above' if delta > 0 else 'below'}"


def _label(key: str, method: dict[str, Any]) -> str:
    return LABELS[key].format(top_k=method.get("summary", {}).get("top_k", "k"))


def estimation(dataset: str) -> str:
    """The markdown inside `<!-- render: estimation_<dataset> -->`: settings, table, verdicts, reading, conditions."""
    data = load_result(f"estimation_{dataset}")
    methods: dict[str, Any] = data["methods"]
    parts = [
        settings_text(data),
        table(methods),
        "\n".join(verdicts(data)),
        reading(data),
        conditions_line(methods),
    ]
    return "\n\n".join(p for p in parts if p) + "\n"


def rung_epochs(methods: dict[str, Any]) -> list[int]:
    """The epoch counts successive halving's rungs trained to, lowest first (min, min·eta, ..., max)."""
    record = methods.get("successive_halving") or methods.get("hyperband")
    return sorted({r["epochs_run"] for r in record["results"]}) if record else []


def settings_text(data: dict[str, Any]) -> str:
    s, methods = data["settings"], data["methods"]
    space = json.dumps(s["space"]) if s["space"] else "of params.yaml"
    text = (
        f"Settings: {json.dumps(s['data'])}, space {space}; {s['candidates']} candidates for every multi-fidelity "
        f"method, at most {s['epochs']} epochs each (`train.patience` = epochs, so full training runs every epoch "
        "and keeps the best one)."
    )
    levels = rung_epochs(methods)
    if len(levels) > 1:
        text += (
            f" Successive halving and Hyperband train to {', '.join(map(str, levels))} epochs at their rungs "
            f"(eta {levels[1] // levels[0]})."
        )
        keys = {frozenset(r["key"] for r in methods[m]["results"]) for m in ("random", *MULTI_FIDELITY) if m in methods}
        if len(keys) == 1 and all(m in methods for m in ("random", *MULTI_FIDELITY)):
            text += (
                f" All three trained the very same {len(next(iter(keys)))} architectures (random search's sampler "
                "and seed)."
            )
    text += (
        " The seed and the parallelism are set in `benchmarks/estimation/run.py` and not recorded in the results "
        "file. Every winner is retrained by the retrain stage on train+val and scored once on test. "
        f"Command: `{data.get('command', '')}`."
    )
    return text


def table(methods: dict[str, Any]) -> str:
    base = methods.get("random")
    lines = [
        "| method | candidates | training epochs | epochs / random's | search wall | winner val acc. | "
        "winner test acc. | Δ test vs random |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for key in LABELS:
        m = methods.get(key)
        if m is None:
            continue
        shared = key in WEIGHT_SHARING
        ratio = "—" if base is None or shared else f"{m['total_epochs'] / base['total_epochs']:.2f}"
        delta = "—" if base is None else f"{100 * (m['test_accuracy'] - base['test_accuracy']) + 0.0:+.2f} pts"
        epochs = f"{m['total_epochs']} (+ supernet)" if shared else str(m["total_epochs"])
        lines.append(
            f"| {_label(key, m)} | {m['candidates']} | {epochs} | {ratio} | {m['search_wall_seconds']:.0f} s | "
            f"{m['winner']['val_accuracy']:.4f} | {m['test_accuracy']:.4f} | {delta} |"
        )
    return "\n".join(lines)


def verdicts(data: dict[str, Any]) -> list[str]:
    """One bullet per method: the multi-fidelity targets, one-shot's cost and ranking, DARTS against random."""
    methods, epochs = data["methods"], data["settings"]["epochs"]
    base = methods.get("random")
    lines = []
    for key in ("hyperband", "successive_halving"):
        m = methods.get(key)
        if m and base:
            share = m["total_epochs"] / base["total_epochs"]
            delta = 100 * (m["test_accuracy"] - base["test_accuracy"])
            met = share <= EPOCH_SHARE_TARGET and delta >= -POINTS_TARGET
            lines.append(
                f"- **{LABELS[key]}**: {share:.0%} of random search's training epochs, test accuracy "
                f"{delta + 0.0:+.2f} points → target (≤ {EPOCH_SHARE_TARGET} of the epochs, within "
                f"{POINTS_TARGET} points) {'met' if met else 'NOT met'}."
            )
    one, kendall = methods.get("oneshot"), methods.get("kendall")
    if one and kendall:
        summary = one["summary"]
        budget = STANDALONE_TARGET * kendall["standalone_train_seconds_mean"]
        cheaper = one["search_wall_seconds"] < budget
        lines.append(
            f"- **one-shot**: Kendall τ between inherited-weight scores and stand-alone val accuracy = "
            f"**{kendall['kendall_tau']:.2f}** (p = {kendall['p_value']:.2g}) on {kendall['k']} candidates spread "
            f"over the score range, each trained stand-alone for {epochs} epochs. Supernet training "
            f"{summary['supernet_seconds']:.0f} s, scoring {summary['evaluations']} candidates "
            f"{summary['scoring_seconds']:.1f} s, top-{summary['top_k']} stand-alone retraining "
            f"{summary['standalone_seconds']:.0f} s: the whole one-shot search took {one['search_wall_seconds']:.0f} s "
            f"against {budget:.0f} s for {STANDALONE_TARGET} stand-alone trainings (mean "
            f"{kendall['standalone_train_seconds_mean']:.1f} s each, measured on the {kendall['k']} above) → "
            f"{one['search_wall_seconds'] / budget:.2f}× ({'less' if cheaper else 'MORE'} than "
            f"{STANDALONE_TARGET} trainings)."
        )
    darts = methods.get("darts")
    if darts and base:
        from nas_core.architecture import describe

        summary = darts["summary"]
        lines.append(
            f"- **DARTS**: supernet search {summary['darts_seconds']:.0f} s ({summary['darts_epochs']} epochs), "
            f"whole search {darts['search_wall_seconds']:.0f} s (random search: {base['search_wall_seconds']:.0f} s). "
            f"Derived `{describe(darts['winner']['architecture'])}`: test accuracy {darts['test_accuracy']:.4f} "
            f"against {base['test_accuracy']:.4f} for random search's best "
            f"({100 * (darts['test_accuracy'] - base['test_accuracy']) + 0.0:+.2f} points)."
        )
    return lines


def reading(data: dict[str, Any]) -> str:
    """What the table means, sentence by sentence, each one computed from the results file."""
    methods = data["methods"]
    base = methods.get("random")
    if base is None:
        return ""
    vals = [r["val_accuracy"] for m in methods.values() for r in m.get("results", []) if r["val_accuracy"] is not None]
    kendall = methods.get("kendall")
    if kendall:
        vals += [v for _, v in kendall["pairs"]]
    val_size = split_size(vals)
    test_size = split_size([m["test_accuracy"] for m in methods.values() if "test_accuracy" in m])
    start, end = _span(methods)
    code = f"commit {data['commit']}" if "commit" in data else "older code (the results file records no commit)"
    sentences = [f"Reading it: one seed, one run of each method, from {start} to {end}, {code}."]
    sizes = {"val": val_size, "test": test_size}
    if val_size and val_size == test_size:
        sizes = {"val and test": val_size}
    for split, size in sizes.items():
        if size:
            sentences.append(
                f"Every {split} accuracy in the file is a multiple of 1/{size}, as from {size} examples per split "
                f"(or a multiple of {size}): one example is {100 / size:.2f} points."
            )
    sentences.append(full_training(base, val_size))
    sentences += [fate(methods, key, test_size) for key in MULTI_FIDELITY if key in methods]
    if kendall:
        sentences.append(ranking(kendall, val_size))
    sentences += weight_sharing(methods, test_size)
    return " ".join(s for s in sentences if s)


def _span(methods: dict[str, Any]) -> tuple[str, str]:
    """When the first method started and the last one ended ("YYYY-MM-DD HH:MM:SS UTC" sorts as text)."""
    starts = [m["conditions"]["before"]["when"] for m in methods.values()]
    ends = [m["conditions"]["after"]["when"] for m in methods.values()]
    return min(starts), max(ends)


def full_training(base: dict[str, Any], val_size: int | None) -> str:
    """How crowded the top of random search's val accuracies is: ties make the winner the tie-break's pick."""
    done = sorted((r["val_accuracy"] for r in base["results"] if r["val_accuracy"] is not None), reverse=True)
    top = done[0]
    ties = sum(abs(v - top) < 1e-9 for v in done)
    text = f"Under full training, random search's {len(done)} val accuracies span {done[-1]:.4f} to {top:.4f};"
    if ties > 1:
        return f"{text} {ties} of them share the top, so among those the tie-break, not val accuracy, chose the winner."
    gap = f"{round((top - done[1]) * val_size)} val examples" if val_size else f"{100 * (top - done[1]):.2f} points"
    return f"{text} one candidate holds the top alone, {gap} above the next."


def fate(methods: dict[str, Any], key: str, test_size: int | None) -> str:
    """What a multi-fidelity method did with random search's winner, and how its own winner compares."""
    base, m = methods["random"], methods[key]
    label = LABELS[key][0].upper() + LABELS[key][1:]
    share = m["total_epochs"] / base["total_epochs"]
    winner = base["winner"]["key"]
    record = next((r for r in m["results"] if r["key"] == winner), None)
    full = max(r["epochs_run"] for r in m["results"])
    if m["winner"]["key"] == winner:
        how = ""
        if record and record["rung"] == 0 and record["epochs_run"] == full:
            how = f", trained to the full {full} epochs from its first rung (the bracket that starts at full training)"
        return f"{label} picked random search's winner{how}, with {share:.0%} of random search's training epochs."
    text = f"{label} ({share:.0%} of the epochs)"
    if record is None:
        text += " never trained random search's winner"
    elif record["stopped_early"]:
        epochs = f"{record['epochs_run']} epoch{'s' if record['epochs_run'] != 1 else ''}"
        text += (
            f" stopped random search's winner at rung {record['rung']}, after {epochs} at val accuracy "
            f"{record['val_accuracy']:.4f}"
        )
    else:
        text += f" trained random search's winner to val accuracy {record['val_accuracy']:.4f} and preferred another"
    own = next(r for r in m["results"] if r["key"] == m["winner"]["key"])
    again = next((r for r in base["results"] if r["key"] == own["key"]), None)
    text += (
        f"; its own winner reached val accuracy {own['val_accuracy']:.4f} after {own['epochs_run']} epochs"
        + (f" ({again['val_accuracy']:.4f} under random search's full training)" if again else "")
        + f" and {_compare(m['test_accuracy'] - base['test_accuracy'], test_size)} random search's."
    )
    return text


def ranking(kendall: dict[str, Any], val_size: int | None) -> str:
    """Kendall τ with its significance and the spread of the stand-alone accuracies it ranks."""
    standalone = [v for _, v in kendall["pairs"]]
    low, high = min(standalone), max(standalone)
    significant = kendall["p_value"] < SIGNIFICANCE
    apart = f", {round((high - low) * val_size)} val examples apart" if val_size else ""
    return (
        f"Kendall τ = {kendall['kendall_tau']:.2f} is {'' if significant else 'not '}significant at "
        f"p < {SIGNIFICANCE} (p = {kendall['p_value']:.2g}); the {len(standalone)} stand-alone val accuracies it "
        f"ranks span {low:.4f} to {high:.4f}{apart}, and take {len(set(standalone))} distinct values."
    )


def weight_sharing(methods: dict[str, Any], test_size: int | None) -> list[str]:
    """Each weight-sharing winner against random search's, and why a gap is expected: a smaller space."""
    base = methods["random"]
    names = {
        "oneshot": "The one-shot winner (the better of its top-{k} by inherited-weight score, retrained)",
        "darts": "DARTS' derived architecture",
    }
    clauses = []
    for key in WEIGHT_SHARING:
        m = methods.get(key)
        if m is None:
            continue
        name = names[key].format(k=m["summary"].get("top_k", ""))
        clauses.append(
            f"{name} {_compare(m['test_accuracy'] - base['test_accuracy'], test_size)} random search's winner"
        )
    if not clauses:
        return []
    return [
        f"{'; '.join(clauses)}.",
        'Both search a reduced space (fixed depth, pooling and activation; docs/estimation.md, "The space they '
        "search\"), so random search's best is not necessarily within their reach.",
    ]


def conditions_line(methods: dict[str, Any]) -> str:
    loads = [m["conditions"][when]["load_average_1_5_15"][1] for m in methods.values() for when in ("before", "after")]
    first = next(iter(methods.values()))["conditions"]["before"]
    start, end = _span(methods)
    return (
        f"Conditions: {first['cpus']} CPU cores, Python {first['python']}; 5-minute load average between "
        f"{min(loads):.1f} and {max(loads):.1f} at the starts and ends of the methods ({start} to {end}), median "
        f"{statistics.median(loads):.1f}. Wall times vary with that load; epoch counts do not."
    )
