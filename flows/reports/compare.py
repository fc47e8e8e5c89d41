"""Two searches side by side: one HTML page with PNGs, written by `nas compare A B` (tracking/compare_record.py).

The page puts both searches' best-so-far curves and their accuracy against size on shared plots,
draws both winners, and says whether the winners' difference is beyond the noise of the data they
were scored on. Two accuracies measured on a few hundred images differ by a point or more by
chance, so one strategy has beaten another only when its winner's lead is larger than that.
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flows.reports.architecture import draw_architecture
from flows.reports.compare_charts import COLORS, accuracy_vs_size, best_so_far
from flows.reports.html import STYLE, _figure, _num
from flows.reports.page import SearchData, named_winner, save
from nas_core.architecture import describe
from nas_core.results import CandidateResult
from nas_core.uncertainty import Z95, difference_noise, standard_error

COMPARE_STYLE = """
.warn { background: #fdecea; border-left: 4px solid #c0392b; padding: 0.6rem 1rem; border-radius: 4px; }
.verdict { background: #f4f6f8; border-left: 4px solid #3b6ea8; padding: 0.5rem 1rem; border-radius: 4px; }
.verdict p { margin: 0.35rem 0; } .note { font-size: 0.8rem; color: #666; }
.swatch { display: inline-block; width: 0.8rem; height: 0.8rem; border-radius: 2px; margin-right: 0.35rem;
          vertical-align: -0.05rem; }
table.side th:first-child { width: 12.5rem; } table.side td { width: 40%; }
figure { margin: 0; } figcaption { font-size: 0.8rem; color: #444; margin-top: 0.3rem; }
.archs { align-items: start; } .archs img { display: block; margin: 0 auto; width: auto; max-width: 100%;
         max-height: 480px; }
"""


@dataclass(frozen=True)
class ComparedSearch:
    """One of the two searches: what its own report shows, and what the header names it by."""

    data: SearchData
    name: str = ""  # the MLflow run name
    data_source: str = ""  # params.yaml's data.source when it ran
    dataset_hash: str = ""  # the prepared data's content hash (tag nas.dataset_hash)
    data_md5: str = ""  # DVC's md5 of data/prepared (tag nas.data_dvc_md5)
    seed: str = ""  # the seed its strategy used

    @property
    def winner(self) -> CandidateResult | None:
        """The winner it named among its own candidates (after re-scoring, if it re-scored; not a warm start's
        history, whose winner it falls back to its own best for)."""
        return named_winner(self.data)


@dataclass(frozen=True)
class Measured:
    """An accuracy and its standard error; `se` is None when its number of examples was not recorded."""

    value: float
    se: float | None

    def text(self) -> str:
        return f"{self.value:.4f}" + ("" if self.se is None else f" ± {Z95 * self.se:.4f}")


def val_of(winner: CandidateResult | None) -> Measured | None:
    if winner is None or winner.val_accuracy is None:
        return None
    n = winner.val_examples
    return Measured(winner.val_accuracy, standard_error(winner.val_accuracy, n) if n else None)


def test_of(retrain: Mapping[str, Any] | None) -> Measured | None:
    """The retrained winner's test accuracy; its noise is widened by the spread over retrain seeds."""
    if not retrain or "test_accuracy" not in retrain:
        return None
    test, n = float(retrain["test_accuracy"]), int(retrain.get("test_examples") or 0)
    spread = float(retrain.get("test_accuracy_sd") or 0.0)
    return Measured(test, math.hypot(standard_error(test, n), spread) if n else None)


def promotion_of(retrain: Mapping[str, Any] | None) -> Measured | None:
    """The cross-validated promotion score on train+val, the champion rule's number."""
    if not retrain or "promotion_accuracy" not in retrain:
        return None
    score, n = float(retrain["promotion_accuracy"]), int(retrain.get("promotion_examples") or 0)
    return Measured(score, standard_error(score, n) if n else None)


def verdict(labels: tuple[str, str], a: Measured, b: Measured, split: str) -> str:
    """In words: which winner scores higher on `split`, by how much, and whether that is beyond the noise."""
    gap = a.value - b.value
    if a.se is None or b.se is None:
        noise_text = "its noise is unknown (a number of examples was not recorded)"
        if abs(gap) < 1e-9:
            return f"both winners score {a.value:.4f} on {split}; {noise_text}"
        high, low = labels if gap > 0 else labels[::-1]
        return f"{high}'s winner is {abs(gap):.4f} above {low}'s on {split}; {noise_text}"
    noise = difference_noise(a.se, b.se)
    if abs(gap) < 1e-9:  # accuracies are counts over the same n: equal ones are equal
        return (
            f"both winners score {a.value:.4f} on {split}; the noise of a difference is ±{noise:.4f}, "
            f"so {split} cannot tell them apart"
        )
    high, low = labels if gap > 0 else labels[::-1]
    head = f"{high}'s winner is {abs(gap):.4f} above {low}'s; the noise of that difference is ±{noise:.4f}, so "
    if abs(gap) <= noise:
        return head + f"{split} cannot tell them apart"
    return head + f"the lead is beyond the noise: on {split}, {high}'s winner is better"


def labels_of(a: ComparedSearch, b: ComparedSearch) -> tuple[str, str]:
    """What the sentences call the two searches: their strategies, or A and B when both used the same one."""
    if a.data.strategy != b.data.strategy:
        return a.data.strategy, b.data.strategy
    return "search A", "search B"


def _text(value: str) -> str:
    return html.escape(value, quote=False)


def _swatch(k: int) -> str:
    return f'<span class="swatch" style="background:{COLORS[k]}"></span>'


def header_table(a: ComparedSearch, b: ComparedSearch) -> str:
    """Each search by name, strategy, data, seed, candidates and date, in two columns."""

    def data_text(s: ComparedSearch) -> str:
        parts = [s.data_source or "?", f"hash {s.dataset_hash[:12] or '?'}"]
        return " · ".join(parts + ([f"DVC md5 {s.data_md5[:8]}"] if s.data_md5 else []))

    def candidates_text(s: ComparedSearch) -> str:
        failed = sum(not r.ok for r in s.data.results)
        return f"{len(s.data.results)} trained, {failed} failed"

    rows = [
        ("run name", lambda s: s.name or "–"),
        ("strategy", lambda s: s.data.strategy),
        ("data", data_text),
        ("seed", lambda s: s.seed or "–"),
        ("candidates", candidates_text),
        ("objective", lambda s: s.data.objective.describe()),
        ("started", lambda s: s.data.started or "–"),
        ("MLflow run", lambda s: s.data.run_id),
    ]
    head = f"<tr><th></th><th>{_swatch(0)}A</th><th>{_swatch(1)}B</th></tr>"
    body = "".join(f"<tr><th>{k}</th><td>{_text(get(a))}</td><td>{_text(get(b))}</td></tr>" for k, get in rows)
    return f"<table class='side'>{head}{body}</table>"


def winners_section(a: ComparedSearch, b: ComparedSearch, same_data: bool) -> str:
    """The winners' scores with their noise, and in words whether their difference is beyond it."""
    wa, wb = a.winner, b.winner
    va, vb = val_of(wa), val_of(wb)
    ta, tb = test_of(a.data.retrain), test_of(b.data.retrain)
    pa, pb = promotion_of(a.data.retrain), promotion_of(b.data.retrain)

    def cell(m: Measured | None) -> str:
        return "–" if m is None else m.text()

    def interval(w: CandidateResult | None) -> str:
        if w is None or w.val_interval is None:
            return "–"
        low, high = w.val_interval
        return f"{low:.4f}–{high:.4f} (on {w.val_examples} val examples)"

    rows = [
        ("candidate", f"#{wa.index}" if wa else "none completed", f"#{wb.index}" if wb else "none completed"),
        ("val accuracy ± 95%", cell(va), cell(vb)),
        ("95% interval", interval(wa), interval(wb)),
        ("parameters", _num(wa.params if wa else None), _num(wb.params if wb else None)),
        ("architecture", describe(wa.architecture) if wa else "–", describe(wb.architecture) if wb else "–"),
    ]
    if ta is not None or tb is not None:
        rows.append(("retrained: test ± 95%", cell(ta) if ta else "not retrained", cell(tb) if tb else "not retrained"))
    if pa is not None or pb is not None:
        rows.append(("promotion score ± 95%", cell(pa), cell(pb)))
    body = "".join(f"<tr><th>{k}</th><td>{_text(x)}</td><td>{_text(y)}</td></tr>" for k, x, y in rows)
    labels = labels_of(a, b)
    sentences = []
    if va is not None and vb is not None:
        sentences.append(verdict(labels, va, vb, "val"))
    else:
        sentences.append("one of the searches has no completed candidate: there is no winner to compare")
    if ta is not None and tb is not None:
        sentences.append("Retrained and scored once on test: " + verdict(labels, ta, tb, "test"))
    if pa is not None and pb is not None:
        sentences.append(
            "Promotion score (cross-validated on train+val): " + verdict(labels, pa, pb, "cross-validation")
        )
    caveat = "" if same_data else " (but on different data, so this does not compare the strategies)"
    words = "".join(f"<p>{_text(s[0].upper() + s[1:] + caveat)}.</p>" for s in sentences)
    note = (
        "<p class='note'>± is the 95% half-width from the number of examples (Wilson); the noise of a difference "
        "treats the two scores as independent, which is cautious when both were measured on the same images.</p>"
    )
    return f"<table class='side'>{body}</table><div class='verdict'>{words}</div>{note}"


def _architecture(files: Mapping[str, str], key: str, k: int, s: ComparedSearch) -> str:
    winner = s.winner
    if winner is None:
        return "<figure><figcaption>no completed candidate</figcaption></figure>"
    caption = (
        f"{_swatch(k)}<b>{'AB'[k]} · {_text(s.data.strategy)}</b>: candidate #{winner.index}, "
        f"val accuracy {_num(winner.val_accuracy)}, {_num(winner.params)} parameters<br>"
        f"<code>{_text(describe(winner.architecture))}</code>"
    )
    drawn = _figure(files, key, f"the winner of search {'AB'[k]}")
    return f"<figure>{drawn}<figcaption>{caption}</figcaption></figure>"


def write_comparison(a: ComparedSearch, b: ComparedSearch, out_dir: Path, page: str = "index.html") -> Path:
    """Write the PNGs and the page into `out_dir`; returns the page's path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    searches = [(f"{'AB'[k]} · {s.data.strategy}", s.data) for k, s in enumerate((a, b))]
    files = {"best_so_far": "best_so_far.png", "accuracy_vs_params": "accuracy_vs_params.png"}
    save(best_so_far(searches), out_dir / files["best_so_far"])
    save(accuracy_vs_size(searches), out_dir / files["accuracy_vs_params"])
    for k, s in enumerate((a, b)):
        winner = s.winner
        if winner is not None:
            files[f"winner_{'ab'[k]}"] = f"winner_{'ab'[k]}.png"
            draw_architecture(
                winner.architecture,
                out_dir / files[f"winner_{'ab'[k]}"],
                s.data.input_shape,
                s.data.num_classes,
                title=f"{'AB'[k]} · {s.data.strategy}: candidate #{winner.index}",
            )
    same_data = not (a.dataset_hash and b.dataset_hash and a.dataset_hash != b.dataset_hash)
    title = f"{a.data.strategy} vs {b.data.strategy}"
    warning = ""
    if not same_data:
        warning = (
            f"<p class='warn'><b>Different data:</b> A ran on {_text(a.data_source or '?')} "
            f"(hash {_text(a.dataset_hash[:12])}), B on {_text(b.data_source or '?')} "
            f"(hash {_text(b.dataset_hash[:12])}). Their val accuracies were measured on different images "
            "and are not comparable.</p>"
        )
    sections = [
        f"<h1>Two searches compared: {_text(title)}</h1>",
        f"<p class='sub'>MLflow runs {a.data.run_id[:8]} (A) and {b.data.run_id[:8]} (B)</p>",
        warning,
        header_table(a, b),
        "<h2>The winners</h2>",
        winners_section(a, b, same_data),
        "<h2>Best so far, and accuracy against size</h2>",
        "<div class='grid'>",
        _figure(files, "best_so_far", "best val accuracy against candidates spent, both searches"),
        _figure(files, "accuracy_vs_params", "val accuracy against parameters, both searches"),
        "</div>",
        "<h2>The winners' architectures</h2>",
        "<div class='grid archs'>",
        _architecture(files, "winner_a", 0, a),
        _architecture(files, "winner_b", 1, b),
        "</div>",
    ]
    body = "\n".join(s for s in sections if s)
    index = out_dir / page
    index.write_text(
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        f"<title>{_text(title)}</title><style>{STYLE}{COMPARE_STYLE}</style></head><body>\n{body}\n</body></html>\n",
        encoding="utf-8",
    )
    return index
