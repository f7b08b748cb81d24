"""Smoke tests of `kinema bench` at tiny sizes: the FLOP formula, the matched peer, the JSON."""

import json
import sys
from dataclasses import replace

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode
from typer.testing import CliRunner

from kinema.bench import measure, peak, report
from kinema.bench.flops import dit_step_flops
from kinema.bench.peer import PeerUnavailable, build_peer, peer_forward, wan_config
from kinema.bench.run import SCHEMA, BenchSettings, json_ready, run_bench
from kinema.models.dit import DiT, DiTConfig

SMALL = DiTConfig(latent_channels=4, width=64, depth=2, heads=2)


def test_flop_formula_matches_the_bench_md_formula() -> None:
    b, l, d, n, t = 2, 12, 384, 1024, 128
    self_part = b * (24 * l * d**2 * n + 4 * l * n**2 * d)
    cross_cached = b * l * (4 * d**2 * n + 4 * n * t * d)
    assert dit_step_flops(b, l, d, n, t) == pytest.approx(self_part + cross_cached)
    assert dit_step_flops(b, l, d, n, t, cached=False) - dit_step_flops(b, l, d, n, t) == pytest.approx(b * l * 4 * d * d * t)
    with pytest.raises(ValueError, match="tokens"):
        dit_step_flops(2, 2, 64, 0, 8)


def test_flop_formula_matches_counted_flops_of_a_real_forward() -> None:
    """torch's FLOP counter over a real forward agrees with the formula to within the small parts
    the formula leaves out (embeddings, modulation, final layer). The counter has no formula for
    the CPU flash-attention kernel, so the attention terms (4 N^2 d, 4 N T d) are added to it."""
    model = DiT(SMALL).eval()
    inputs = measure.step_inputs(model, (1, 16, 16), batch=2, text_tokens=8)
    with torch.no_grad():
        kv = model.text_kv(inputs.text)
        with FlopCounterMode(display=False) as counter:
            model(inputs.latent, inputs.timesteps, inputs.text, kv)
    n, t, d, b, l = measure.tokens_of(model, (1, 16, 16)), 8, SMALL.width, 2, SMALL.depth
    formula = dit_step_flops(b, l, d, n, t)
    attention = b * l * (4 * n * n * d + 4 * n * t * d)
    assert formula <= counter.get_total_flops() + attention <= 1.1 * formula


def test_peer_is_matched_to_the_dit_config() -> None:
    cfg = wan_config(SMALL)
    assert cfg["num_attention_heads"] * cfg["attention_head_dim"] == SMALL.width
    assert (cfg["num_layers"], cfg["ffn_dim"], cfg["patch_size"]) == (SMALL.depth, 4 * SMALL.width, (1, 2, 2))
    assert (cfg["in_channels"], cfg["text_dim"], cfg["freq_dim"]) == (4, 384, 256)
    peer = build_peer(SMALL)
    ours = sum(p.numel() for p in DiT(SMALL).parameters())
    theirs = sum(p.numel() for p in peer.parameters())
    assert 0.7 < theirs / ours < 1.4  # same design, same size (embedders differ a little)
    inputs = measure.step_inputs(DiT(SMALL), (3, 4, 4), batch=2, text_tokens=8)
    with torch.no_grad():
        out = peer_forward(peer, inputs.latent, inputs.timesteps, inputs.text.tokens)
    assert out.shape == inputs.latent.shape


def test_missing_diffusers_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "diffusers", None)
    with pytest.raises(PeerUnavailable, match="pip install"):
        build_peer(SMALL)


def test_interleaved_alternates_and_skips_warmup() -> None:
    calls: list[str] = []
    times = measure.interleaved({"a": lambda: calls.append("a"), "b": lambda: calls.append("b")}, repeats=3, warmup=1)
    assert calls == ["a", "b"] * 4
    assert len(times["a"]) == len(times["b"]) == 3
    with pytest.raises(ValueError, match="repeats"):
        measure.interleaved({"a": lambda: None}, repeats=0)


def test_peak_and_memory_probe() -> None:
    p = peak.matmul_peak("fp32", size=64, repeats=2, warmup=1)
    assert p.gflops > 0 and len(p.samples) == 2 and p.threads == torch.get_num_threads()
    with pytest.raises(ValueError, match="dtype"):
        peak.matmul_peak("fp8")
    with pytest.raises(ValueError, match="kernel"):
        peak.matmul_peak("fp32", size=64, kernel="cublas")
    onednn = peak.matmul_peak("fp32", size=64, repeats=1, kernel="onednn")
    assert onednn.kernel == "onednn" and onednn.gflops > 0
    g = torch.Generator().manual_seed(0)  # the oneDNN product is the same product as torch.mm's
    a, b = torch.randn(64, 64, generator=g), torch.randn(64, 64, generator=g)
    assert torch.allclose(peak.square_matmul("fp32", 64, "onednn")(), peak.square_matmul("fp32", 64, "mkl")(), atol=1e-3)
    extra = measure.peak_rss_of(lambda: torch.ones(64, 1024, 1024).sum())  # 256 MB, touched
    if extra is not None:  # Linux
        assert extra > 100


def test_bench_json_schema_and_report(tiny_weights, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from kinema.diffusion.distill import DistilledMeta, save_distilled
    from kinema.pipeline import load_dit

    meta = DistilledMeta(steps=2, guidance=1.0, teacher_steps=20, teacher_guidance=5.0, train_steps=1)
    save_distilled(tmp_path / "student", load_dit(tiny_weights), meta)
    settings = BenchSettings(threads=1, repeats=1, warmup=0, weights=str(tiny_weights), steps=2, peak_size=128,
                             scaling=("64x64", "128x64"), distilled=str(tmp_path / "student"), reference=("tiny", (1, 4, 4)))
    raw = run_bench(settings)
    results = json_ready(raw)
    assert results["schema"] == SCHEMA
    few = results["end_to_end_few_step"]  # the student samples its own windows
    assert (few["steps"], few["guidance"]) == (2, 1.0) and few["seconds"] > 0
    assert set(results["machine"]) >= {"cpu", "logical_cores", "flags", "torch", "threads", "load_average"}
    assert set(results["peak"]) == {"fp32", "fp32_onednn", "bf16"}  # this build has oneDNN
    assert results["peak_kernel"] == max(("mkl", "fp32"), ("onednn", "fp32_onednn"), key=lambda k: results["peak"][k[1]]["gflops"])[0]
    assert [s["tokens"] for s in results["dit_steps"]] == [144, 288]
    for step in results["dit_steps"]:
        assert step["kinema_ms"] > 0 and step["peer_ms"] > 0 and step["peer_over_kinema"] > 0
        assert 0 < step["kinema_fraction_of_peak"] and step["kinema_fraction_of_peak_cpu"] > 0 and step["peer_over_kinema_cpu"] > 0
        assert step["peak_kernel"] == results["peak_kernel"]
        assert step["unpacked_ms"] > 0 and step["unpacked_over_kinema"] > 0  # the pipeline samples packed: eager timed beside it
        # the test model's buffers are a few KB, below what resident memory resolves: the probe ran
        # (a number, no error), its sensitivity is tested above on a 256 MB tensor
        assert step["kinema_memory_mb"] >= 0 and step["peer_memory_mb"] >= 0
    assert "memory_error" not in results
    e2e = results["end_to_end"]
    exact_e2e = raw["end_to_end"]  # before the JSON's rounding, which can move a ratio of small numbers by 0.1%
    assert e2e["video_seconds"] == pytest.approx(33 / 8) and exact_e2e["real_time_factor"] == pytest.approx(exact_e2e["seconds"] / (33 / 8), rel=1e-9)
    assert set(e2e["stage_seconds"]) == {"text", "sample", "decode", "safety_and_watermark"}
    assert results["vae_decode"]["decode_ms"] > 0
    for step in results["dit_steps"]:  # int8 sampling measured in the same rounds
        assert step["int8_ms"] > 0 and step["fp32_over_int8"] > 0 and step["peer_over_int8_cpu"] > 0
    assert results["end_to_end_int8"]["seconds"] > 0
    fidelity = results["int8_fidelity"]
    assert fidelity["psnr_int8_vs_fp32_db"] > 0 and fidelity["psnr_other_seed_db"] > 0
    json.dumps(results)  # JSON-safe
    ref = results["reference_step"]  # a random DiT of the reference preset, against its own same-size peer
    assert ref["preset"] == "tiny" and ref["tokens"] == 4 and ref["parameters"] > 1e6
    assert ref["kinema_ms"] > 0 and ref["peer_over_kinema_cpu"] > 0 and ref["unpacked_over_kinema"] > 0
    # per round (one here) the CPU-time ratio is Kinema's share over the peer's: the peer's share caps the ratio
    # checked before the JSON's 4-digit rounding, which moves a ratio of small shares by more than 0.2%
    exact = raw["reference_step"]
    assert exact["peer_over_kinema_cpu"] == pytest.approx(exact["kinema_fraction_of_peak_cpu"] / exact["peer_fraction_of_peak_cpu"], rel=1e-9)
    names = [t["target"] for t in report.targets(results)]
    assert "transformer share of fp32 peak, CPU time (reference size)" in names
    from rich.console import Console

    console = Console(record=True, width=300)
    console.print(report.tables(results))
    assert "Reference size: tiny preset" in console.export_text()
    assert len(names) == 13 and all(t["met"] in (True, False, None) for t in report.targets(results))
    assert [r["token_ratio"] for r in report.scaling_rows(results)] == [1.0, 2.0]
    assert report.plot_scaling(results, tmp_path / "scaling.png").stat().st_size > 1000


def test_cli_bench_json_quick(tiny_weights, tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    import kinema.bench.run as run_module
    from kinema.cli import app

    # the CLI's own settings, made tiny: a small peak matmul, two canvases, no end-to-end run
    original = run_module.run_bench
    monkeypatch.setattr(run_module, "run_bench", lambda s, note: original(replace(s, peak_size=128, scaling=("64x64",)), note))
    result = CliRunner().invoke(app, ["bench", "--quick", "--json", "--threads", "1", "--weights", str(tiny_weights),
                                      "--no-end-to-end", "--no-peer", "--no-reference", "-o", str(tmp_path / "b.json")])
    assert result.exit_code == 0, result.output
    data = json.loads((tmp_path / "b.json").read_text())
    assert data["settings"]["repeats"] == 2 and data["peer"] is None and data["dit_steps"][0]["peer_ms"] is None
    assert data["settings"]["reference"] is None and "reference_step" not in data
    bad = CliRunner().invoke(app, ["bench", "--threads", "0", "--weights", str(tiny_weights)])
    assert bad.exit_code != 0 and "threads" in bad.output


def test_the_step_is_timed_as_the_sampler_runs_it(monkeypatch: pytest.MonkeyPatch) -> None:
    """With 2 sleeping threads the guided pair runs on two threads (and is also timed as one batch
    of 2, and the peer the same two-thread way); both Kinema paths compute the same velocity."""
    monkeypatch.setenv("OMP_WAIT_POLICY", "PASSIVE")  # as `kinema bench` sets it
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        model = DiT(SMALL).eval()
        for p in model.parameters():
            if p.abs().sum() == 0:
                p.data.normal_(0, 0.1)
        inputs = measure.step_inputs(model, (3, 4, 4), batch=2, text_tokens=8)
        with torch.no_grad():
            threaded, batched = measure.guided_step(model, inputs)(), measure.guided_step(model, inputs, branches="batch")()
        assert torch.allclose(threaded, batched, atol=1e-5)
        with pytest.raises(ValueError, match="batch of 2"):
            measure.guided_step(model, measure.step_inputs(model, (3, 4, 4), batch=1))
        row = measure.measure_step(model, (3, 4, 4), repeats=1, warmup=0, peer=build_peer(SMALL), peak_size=64, text_tokens=8)
        assert row["branches"] == "threads" and row["batched_ms"] > 0 and row["batched_over_kinema"] > 0
        assert row["peer_threads_ms"] > 0 and row["peer_threads_over_kinema"] > 0
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)
