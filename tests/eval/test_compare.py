import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kinema.eval.compare import paired_differences


def _results(label: str, scores: dict[str, tuple[float | None, float]]) -> dict:
    """A results dict as `kinema eval run` writes it: per prompt one color score and overall."""
    return {
        "suite": "kinemabench-v1",
        "label": label,
        "per_prompt": [{"id": pid, "categories": {"color": color}, "overall": overall}
                       for pid, (color, overall) in scores.items()],
    }


def test_paired_differences_are_over_shared_prompts() -> None:
    base = _results("a", {"p1": (0.5, 0.4), "p2": (None, 0.6), "p3": (1.0, 0.8), "p4": (0.0, 0.1)})
    new = _results("b", {"p1": (0.7, 0.5), "p2": (0.9, 0.6), "p3": (1.0, 1.0)})  # p4 missing
    rows = paired_differences(base, new)
    overall = rows["overall"]
    assert overall["pairs"] == 3
    assert overall["base"] == pytest.approx(0.6) and overall["new"] == pytest.approx(0.7)
    assert overall["difference"] == pytest.approx(0.1)
    # differences 0.1, 0, 0.2: sample s.d. 0.1, s.e. 0.1 / sqrt(3)
    assert overall["stderr"] == pytest.approx(0.1 / 3 ** 0.5)
    color = rows["color"]  # p2 has no base color score: 2 pairs
    assert color["pairs"] == 2 and color["difference"] == pytest.approx(0.1)
    assert rows["shape"]["pairs"] == 0 and rows["shape"]["difference"] is None


def test_paired_differences_need_results() -> None:
    with pytest.raises(ValueError, match="share no prompt"):
        paired_differences(_results("a", {"p1": (1, 1)}), _results("b", {"p2": (1, 1)}))
    with pytest.raises(ValueError, match="per-prompt"):
        paired_differences({"suite": "x"}, _results("b", {"p2": (1, 1)}))


def test_cli_compare(tmp_path: Path) -> None:
    from kinema.cli import app

    base = _results("base", {f"p{i}": (0.5, 0.5) for i in range(20)})
    new = _results("new", {f"p{i}": (0.5 + 0.01 * (i % 3), 0.6 + 0.01 * (i % 2)) for i in range(20)})
    (tmp_path / "a.json").write_text(json.dumps(base))
    (tmp_path / "b.json").write_text(json.dumps(new))
    runner = CliRunner()
    out = runner.invoke(app, ["eval", "compare", str(tmp_path / "a.json"), str(tmp_path / "b.json"),
                              "-o", str(tmp_path / "d.json")])
    assert out.exit_code == 0, out.output
    assert "KinemaBench" in out.output  # the table (its cells wrap with the terminal width; the JSON holds the numbers)
    rows = json.loads((tmp_path / "d.json").read_text())["rows"]
    assert rows["overall"]["difference"] == pytest.approx(0.105) and rows["overall"]["pairs"] == 20

    other = dict(new, suite="another")
    (tmp_path / "c.json").write_text(json.dumps(other))
    bad = runner.invoke(app, ["eval", "compare", str(tmp_path / "a.json"), str(tmp_path / "c.json")])
    assert bad.exit_code == 2 and "suite" in " ".join(bad.output.split())
    missing = runner.invoke(app, ["eval", "compare", str(tmp_path / "a.json"), str(tmp_path / "nope.json")])
    assert missing.exit_code == 2 and "does not exist" in " ".join(missing.output.split())  # errors wrap too


def test_cli_run_rejects_a_bad_sampler_option_before_generating() -> None:
    from kinema.cli import app

    runner = CliRunner()
    out = runner.invoke(app, ["eval", "run", "--guidance-interval", "0.9,0.1", "--subset", "ci"])
    assert out.exit_code == 2 and "guidance interval" in out.output
    out = runner.invoke(app, ["eval", "run", "--solver", "ddim", "--subset", "ci"])
    assert out.exit_code == 2 and "solver" in out.output
