"""The renderer that keeps BENCHMARKS.md's tables equal to the results files."""

from __future__ import annotations

from pathlib import Path

from benchmarks import render


def test_a_block_is_rewritten_from_its_results_and_prose_around_it_stays(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    stale = "<!-- render: winner_selection -->\n| stale | 0.5 |\n<!-- /render -->\n"
    page.write_text(f"Prose before.\n{stale}Prose after.\n")
    assert render.main(["--check", str(page)]) == 1  # a stale number is caught
    assert render.main([str(page)]) == 0
    text = page.read_text()
    assert text.startswith("Prose before.\n<!-- render: winner_selection -->\nSearch schedule: constant.\n")
    assert "| retrain recipe | selection rule |" in text
    assert text.endswith("<!-- /render -->\nProse after.\n") and "| stale |" not in text
    assert render.main(["--check", str(page)]) == 0


def test_the_committed_pages_match_their_results() -> None:
    assert render.main(["--check"]) == 0
