"""The "Against Keras Tuner" block of BENCHMARKS.md, from benchmarks/keras_tuner.py's results file.

Everything in the block, the verdicts included, is computed from
benchmarks/results/keras_tuner_<dataset>.json, so a rerun cannot leave stale prose behind. The
rules typed here are the target (no slower at parallelism 1, faster at parallelism 2, equal
accuracy) and what counts as noise.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from typing import Any

from benchmarks.rendering.results import load_result, split_size

RANDOM, HYPERBAND = "keras-tuner RandomSearch", "keras-tuner Hyperband"
SERVER_ROW = "ours on Keras Tuner's draw, parallelism 1, Prefect server running"
TEMPORARY_ROW = "ours on Keras Tuner's draw, parallelism 1"


def reference(name: str) -> str:
    """The Keras Tuner search a row is timed and scored against (benchmarks/keras_tuner.py's rule)."""
    return HYPERBAND if "Hyperband" in name else RANDOM


def label(name: str, data: dict[str, Any]) -> str:
    """The row's name as the page shows it, with the settings that make Keras Tuner's rows comparable."""
    if name == RANDOM:
        return f"Keras Tuner `RandomSearch` ({data['trials']} trials)"
    if name == HYPERBAND:
        return f"Keras Tuner `Hyperband` (max {data['epochs']} epochs)"
    return name.replace("ours random", "ours `random`").replace("ours Hyperband", "ours `estimation: hyperband`")


def family(name: str, data: dict[str, Any]) -> str:
    """A row's label without its parallelism and server variant: rows of one family share draw and winners."""
    return label(name.split(", parallelism")[0], data)


def grouped(names: list[str], data: dict[str, Any], value: Callable[[str], str]) -> str:
    """Rows of one family that show the same value, once: "ours `random` (2 rows): 1.19 M"."""
    groups: dict[tuple[str, str], list[str]] = {}
    for name in names:
        groups.setdefault((family(name, data), value(name)), []).append(name)
    return "; ".join(
        f"{fam} ({len(members)} rows): {shown}" if len(members) > 1 else f"{label(members[0], data)}: {shown}"
        for (fam, shown), members in groups.items()
    )


def ratios(runs: dict[str, list[dict[str, Any]]], name: str) -> list[float]:
    """Per seed, this row's wall time over its Keras Tuner reference's on the same seed."""
    return [o["wall_seconds"] / r["wall_seconds"] for o, r in zip(runs[name], runs[reference(name)], strict=True)]


def beyond_noise(values: list[float], centre: float = 1.0) -> bool:
    """The median is further from `centre` than the per-seed values spread: then every seed lies on its side."""
    return abs(statistics.median(values) - centre) > max(values) - min(values)


def _noise(values: list[float], centre: float = 1.0) -> str:
    return "beyond the noise" if beyond_noise(values, centre) else "inside the noise"


def _points(value: float) -> str:
    return f"{round(100 * value, 2) + 0.0:+.2f}"


def _per_seed(values: list[Any]) -> str:
    """One value when every seed agrees (the usual for counts), else each seed's."""
    return f"{values[0]:g}" if len(set(values)) == 1 else ", ".join(f"{v:g}" for v in values)


def table(data: dict[str, Any]) -> list[str]:
    """One row per search, in the order they ran: the work each did next to its time and its winner's score."""
    runs, summary = data["runs"], data["summary"]
    lines = [
        f"| search | wall time / Keras Tuner's (median of {len(data['seeds'])} seeds) | per seed | new candidates "
        "| epochs trained | parameters drawn (mean) | best val acc. (mean) | winner's test acc. (mean) "
        "| test minus Keras Tuner, points (mean ± sd; per seed) |",
        "|---|---:|---|---:|---:|---:|---:|---:|---|",
    ]
    for name, outcomes in runs.items():
        row = summary[name]
        walls = [o["wall_seconds"] for o in outcomes]
        if name == reference(name):
            wall = f"1.00 ({statistics.median(walls):.1f} s)"
            per_seed = ", ".join(f"{w:.1f}" for w in walls) + " s"
            diff = ""
        else:
            wall = f"**{row['median_wall_ratio_vs_keras_tuner']:.2f}**"
            per_seed = ", ".join(f"{r:.2f}" for r in ratios(runs, name))
            d = row["test_accuracy_minus_keras_tuner"]
            diff = f"{_points(d['mean'])} ± {100 * d['stdev']:.2f} ({', '.join(_points(v) for v in d['per_seed'])})"
        params = [o.get("params_drawn") for o in outcomes]
        drawn = "–" if None in params else f"{statistics.mean(params) / 1e6:.2f} M"
        lines.append(
            f"| {label(name, data)} | {wall} | {per_seed} | {_per_seed([o['candidates'] for o in outcomes])} "
            f"| {_per_seed([o['training_epochs'] for o in outcomes])} | {drawn} "
            f"| {row['mean_best_val_accuracy']:.4f} | {row['mean_test_accuracy']:.4f} | {diff} |"
        )
    return lines


def speed_verdict(data: dict[str, Any], parallelism: int) -> str:
    """Faster at parallelism 2 (median ratio < 1), no slower at parallelism 1 (≤ 1), row by row, with the noise."""
    runs = data["runs"]
    names = [n for n in runs if n != reference(n) and f"parallelism {parallelism}" in n]
    passes: Callable[[float], bool] = (lambda r: r <= 1.0) if parallelism == 1 else (lambda r: r < 1.0)
    wanted = "no slower" if parallelism == 1 else "faster"
    met = [n for n in names if passes(statistics.median(ratios(runs, n)))]
    verdict = "met" if len(met) == len(names) else "missed" if not met else f"met in {len(met)} of {len(names)} rows"
    parts = []
    for name in names:
        values = ratios(runs, name)
        parts.append(
            f"{label(name, data)}: {statistics.median(values):.2f} (seeds {min(values):.2f} to {max(values):.2f}, "
            f"{_noise(values)})"
        )
    return (
        f"- **parallelism {parallelism} ({wanted}): {verdict}** by the median of the seeds: " + "; ".join(parts) + "."
    )


def server_verdict(data: dict[str, Any]) -> str | None:
    """A server started before the clock against the search's own temporary one: what the start-up costs."""
    runs = data["runs"]
    if SERVER_ROW not in runs or TEMPORARY_ROW not in runs:
        return None
    values = [s["wall_seconds"] / t["wall_seconds"] for s, t in zip(runs[SERVER_ROW], runs[TEMPORARY_ROW], strict=True)]
    median = statistics.median(values)
    direction = "faster" if median < 1 else "slower" if median > 1 else "level"
    return (
        f"- **Prefect server already running** against the temporary server the search starts itself (the same "
        f"draw, parallelism 1): wall time ratio per seed {', '.join(f'{v:.2f}' for v in values)}, median "
        f"{median:.2f}, {direction}, {_noise(values)}."
    )


def accuracy_verdict(data: dict[str, Any]) -> str:
    """Equal accuracy: each row's mean paired difference against its seed-to-seed sd, and the test split's grain."""
    runs, summary = data["runs"], data["summary"]
    names = [n for n in runs if n != reference(n)]

    def verdict(name: str) -> str:
        d = summary[name]["test_accuracy_minus_keras_tuner"]
        if all(abs(v) < 1e-6 for v in d["per_seed"]):
            return "identical on every seed"
        if abs(d["mean"]) <= d["stdev"]:
            return "inside the noise"
        return f"{'higher' if d['mean'] > 0 else 'lower'}, beyond the noise"

    def shown(name: str) -> str:
        d = summary[name]["test_accuracy_minus_keras_tuner"]
        return f"{_points(d['mean'])} ± {100 * d['stdev']:.2f} points, {verdict(name)}"

    lower = sum(verdict(n) == "lower, beyond the noise" for n in names)
    overall = "met" if not lower else f"missed in {lower} of {len(names)} rows"
    text = (
        f"- **Accuracy (equal): {overall}**, counting a mean difference no larger than its sd over seeds as noise "
        f"(an sd over {len(data['seeds'])} seeds is itself rough): {grouped(names, data, shown)}."
    )
    retrains = [a for outcomes in runs.values() for o in outcomes for a in o.get("test_accuracy_per_retrain", [])]
    n = split_size(retrains)
    if n is not None:
        repeats = len(data["test_seeds"])
        text += (
            f" The test split has {n} images (every retrain's accuracy is a whole number of 1/{n}): one image is "
            f"{100 / n:.2f} points, and a winner's accuracy, the mean of {repeats} retrains, moves in steps of "
            f"{100 / (n * repeats):.2f}."
        )
    draw = next((n for n in names if "Keras Tuner's draw" in n), None)
    if draw is not None:
        same = [
            o["seed"]
            for o, r in zip(runs[draw], runs[RANDOM], strict=True)
            if o["best_architecture"] == r["best_architecture"]
        ]
        which = f" (seed {', '.join(map(str, same))})" if same else ""
        text += (
            f" On Keras Tuner's draw our winner ({label(draw, data)}) was Keras Tuner's own on {len(same)} of "
            f"{len(data['seeds'])} seeds{which}."
        )
    return text


def work_line(data: dict[str, Any], ref: str) -> str:
    """Epochs trained and parameters drawn per seed, Keras Tuner's against ours: unequal work made visible."""
    runs = data["runs"]
    rows = [n for n in runs if n != ref and reference(n) == ref]

    def mean(name: str, key: str) -> float:
        return statistics.mean(o[key] or 0 for o in runs[name])

    def against(key: str, fmt: Callable[[float], str]) -> Callable[[str], str]:
        base = mean(ref, key)
        return lambda name: (
            fmt(mean(name, key))
            + ("" if mean(name, key) == base or not base else f" ({mean(name, key) / base:.2f}× Keras Tuner's)")
        )

    trials, new = mean(ref, "trials"), mean(ref, "candidates")
    started = f"{new:g} new candidates" + (f" in {trials:g} trials" if trials != new else "")
    epochs = mean(ref, "training_epochs")
    if all(mean(n, "training_epochs") == epochs for n in rows):
        text = f"Keras Tuner trained {epochs:g} epochs per seed ({started}), and every row of ours as many"
    else:
        text = f"Keras Tuner trained {epochs:g} epochs per seed ({started}); " + grouped(
            rows, data, against("training_epochs", lambda v: f"{v:g}")
        )
    params = against("params_drawn", lambda v: f"{v / 1e6:.2f} M")
    text += (
        f". Parameters drawn (summed over a search's new candidates, mean over seeds): Keras Tuner "
        f"{mean(ref, 'params_drawn') / 1e6:.2f} M; " + grouped(rows, data, params)
    )
    return f"- **Work against {label(ref, data)}:** {text}."


def order_line(data: dict[str, Any]) -> str:
    """Which side ran first: a fixed order leaves any drift along a seed's runs on one side."""
    names = list(data["runs"])
    first = all(names.index(reference(n)) <= names.index(n) for n in names)
    if data.get("alternated"):
        return (
            "- **Order:** the sides alternated which ran first from seed to seed (Keras Tuner on even seeds, ours "
            "on odd ones); the rows on Keras Tuner's draw always follow its run, which they need."
        )
    lead = "Keras Tuner's search ran first, before ours on the same seed" if first else "the rows ran as listed"
    return (
        f"- **Order:** within each seed the searches ran one after another in the table's order; {lead}. The order "
        "did not alternate (benchmarks/keras_tuner.py runs it fixed), so drift along a seed's runs (warmer caches, "
        "load left by the run before) falls on the sides unequally."
    )


def noise_line(data: dict[str, Any]) -> str:
    """How much one Keras Tuner search moved from seed to seed, and the machine's load during the runs."""
    runs = data["runs"]
    parts = []
    for ref in (RANDOM, HYPERBAND):
        if ref in runs:
            walls = [o["wall_seconds"] for o in runs[ref]]
            spread = (max(walls) - min(walls)) / statistics.median(walls)
            parts.append(
                f"{label(ref, data)} {min(walls):.1f} to {max(walls):.1f} s ({100 * spread:.0f} % of its median)"
            )
    loads = [o["load_average"] for outcomes in runs.values() for o in outcomes]
    return (
        f"- **Noise:** seed to seed, {'; '.join(parts)}. Load average (1 min) at the end of each timed run: "
        f"{min(loads):.1f} to {max(loads):.1f}."
    )


def footer(data: dict[str, Any]) -> str:
    """The settings, the space's size and when it ran, read from the file: the setup shown is the one measured."""
    from nas_core.architecture import cnn_search_space
    from nas_core.config import SpaceConfig

    size = cnn_search_space(SpaceConfig.model_validate(data["space"])).size()
    seeds, tests = " ".join(map(str, data["seeds"])), " ".join(map(str, data["test_seeds"]))
    command = (
        f"python -m benchmarks.keras_tuner --dataset {data['dataset']} --trials {data['trials']} "
        f"--epochs {data['epochs']} --batch-size {data['batch_size']} --seeds {seeds} --test-seeds {tests}"
    )
    if data.get("limit") is not None:
        command += f" --limit {data['limit']}"
    machine = data["machine"]
    when = f"Started {data['started']}" + (f" at commit {data['commit']}" if "commit" in data else "")
    return (
        f"Settings: {data['dataset']}, {data['trials']} random trials, {data['epochs']} epochs, batch "
        f"{data['batch_size']}, seeds {', '.join(map(str, data['seeds']))}; winners retrained with seeds "
        f"{', '.join(map(str, data['test_seeds']))}; a space of {size:,} distinct architectures. {machine['cores']} "
        f"cores, Python {machine['python']}. {when}. As run (from those settings): `{command}`"
    )


def keras_tuner(dataset: str = "digits") -> str:
    """The comparison table and the verdicts against the target, all from the results file."""
    data = load_result(f"keras_tuner_{dataset}")
    verdicts = [speed_verdict(data, 2), speed_verdict(data, 1), server_verdict(data), accuracy_verdict(data)]
    verdicts += [work_line(data, ref) for ref in (RANDOM, HYPERBAND) if ref in data["runs"]]
    verdicts += [order_line(data), noise_line(data)]
    lines = [
        *table(data),
        "",
        "Against the target (at equal accuracy, no slower at parallelism 1, faster at parallelism 2). A median "
        "ratio is beyond the noise when it is further from 1 than its per-seed ratios spread, so that every seed "
        "agrees:",
        *(v for v in verdicts if v is not None),
        "",
        footer(data),
    ]
    return "\n".join(lines) + "\n"
