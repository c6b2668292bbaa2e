"""Benchmark: streamed scans over a local Hub server — memory against depth, bytes fetched, streamed vs download.

Run: ``python benchmarks/bench_streaming.py`` (``--quick`` for 2 vs 8 layers).

Builds synthetic llama-style checkpoints (BF16, same width, 4 and 32 layers, with embeddings that must not be read),
serves them from ``tests.hub_server`` on 127.0.0.1, and scans each in a fresh process:

1. peak RSS of the whole process and above its post-import baseline, 4 vs 32 layers (the ratio should stay ≤ 1.3);
2. bytes fetched against the file size and the bytes the diagnostics need;
3. streamed scan time against downloading the whole file first (``hf_hub_download``) and then scanning it.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks._measure import measure  # noqa: E402

WIDTH, HEADS, KV_HEADS, FFN, VOCAB = 512, 8, 4, 1408, 32000


def write_model(directory: Path, layers: int) -> None:
    """A random llama-style checkpoint in BF16 with embeddings and an LM head."""
    from safetensors.torch import save_file

    g = torch.Generator().manual_seed(layers)
    dh = WIDTH // HEADS

    def w(*shape: int) -> torch.Tensor:
        return (torch.randn(*shape, generator=g) / shape[-1] ** 0.5).to(torch.bfloat16)

    tensors = {"model.embed_tokens.weight": w(VOCAB, WIDTH), "lm_head.weight": w(VOCAB, WIDTH)}
    for i in range(layers):
        p = f"model.layers.{i}."
        tensors |= {
            p + "self_attn.q_proj.weight": w(HEADS * dh, WIDTH),
            p + "self_attn.k_proj.weight": w(KV_HEADS * dh, WIDTH),
            p + "self_attn.v_proj.weight": w(KV_HEADS * dh, WIDTH),
            p + "self_attn.o_proj.weight": w(WIDTH, HEADS * dh),
            p + "mlp.gate_proj.weight": w(FFN, WIDTH),
            p + "mlp.up_proj.weight": w(FFN, WIDTH),
            p + "mlp.down_proj.weight": w(WIDTH, FFN),
            p + "input_layernorm.weight": torch.ones(WIDTH, dtype=torch.bfloat16),
            p + "post_attention_layernorm.weight": torch.ones(WIDTH, dtype=torch.bfloat16),
        }
    directory.mkdir(parents=True, exist_ok=True)
    save_file(tensors, directory / "model.safetensors")
    config = {
        "model_type": "llama",
        "hidden_size": WIDTH,
        "num_attention_heads": HEADS,
        "num_key_value_heads": KV_HEADS,
        "intermediate_size": FFN,
        "num_hidden_layers": layers,
    }
    (directory / "config.json").write_text(json.dumps(config))


def _imports() -> None:
    """Import everything a scan needs, so the baseline RSS includes torch and the libraries."""
    import workers.pipeline  # noqa: F401
    import workers.sources  # noqa: F401

    torch.set_num_threads(1)


def _streamed(args: tuple[str, str]) -> tuple[int, int, int]:
    from workers.pipeline import scan
    from workers.sources import HubSettings, HubSource

    endpoint, repo = args
    report = scan(HubSource(repo, None, HubSettings(endpoint=endpoint)))
    return (
        report.provenance.bytes_read,
        report.provenance.bytes_total,
        resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
    )


def _downloaded(args: tuple[str, str]) -> tuple[int, int, int]:
    from huggingface_hub import hf_hub_download

    from workers.pipeline import scan
    from workers.sources import LocalSource

    endpoint, repo = args
    with tempfile.TemporaryDirectory() as tmp:
        for name in ("config.json", "model.safetensors"):
            hf_hub_download(repo, name, local_dir=tmp, endpoint=endpoint)
        report = scan(LocalSource(tmp))
    return (
        report.provenance.bytes_read,
        report.provenance.bytes_total,
        resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
    )


def _setup(endpoint: str, repo: str) -> tuple[str, str]:
    _imports()
    return endpoint, repo


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="2 vs 8 layers")
    args = parser.parse_args()
    import functools

    from tests.hub_server import HubServer

    depths = (2, 8) if args.quick else (4, 32)
    rows = []
    with tempfile.TemporaryDirectory() as tmp, HubServer(Path(tmp)) as hub:
        for layers in depths:
            write_model(Path(tmp) / f"bench/llama-{layers}", layers)
        for layers in depths:
            repo = f"bench/llama-{layers}"
            size = (Path(tmp) / repo / "model.safetensors").stat().st_size
            setup = functools.partial(_setup, hub.endpoint, repo)
            s_time, s_extra, (s_read, needed, s_peak) = measure(setup, _streamed)
            served_before = hub.log.total_body_bytes(repo)
            d_time, d_extra, (_, _, d_peak) = measure(setup, _downloaded)
            downloaded = hub.log.total_body_bytes(repo) - served_before
            rows.append((layers, size, needed, s_read, s_time, s_peak, s_extra, d_time, d_peak, downloaded))
    print(f"synthetic llama, BF16, d={WIDTH}, heads {HEADS}/{KV_HEADS}, d_ff={FFN}, vocab {VOCAB}; torch threads 1\n")
    print(
        "| layers | file MB | needed MB | fetched MB | fetched/needed | fetched/file | streamed s | download+scan s "
        "| downloaded MB | peak RSS MB (streamed) | peak above imports MB | peak RSS MB (download) |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    mb = 1e6
    for layers, size, needed, s_read, s_time, s_peak, s_extra, d_time, d_peak, downloaded in rows:
        print(f"| {layers} | {size / mb:.0f} | {needed / mb:.1f} | {s_read / mb:.1f} | {s_read / needed:.3f} | "
              f"{s_read / size:.3f} | {s_time:.1f} | {d_time:.1f} | {downloaded / mb:.0f} | {s_peak / mb:.0f} | "
              f"{s_extra / mb:.0f} | {d_peak / mb:.0f} |")  # fmt: skip
    shallow, deep = rows
    print(f"\npeak RSS ratio {deep[0]} vs {shallow[0]} layers (streamed): whole process {deep[5] / shallow[5]:.2f}, "
          f"above imports {deep[6] / max(shallow[6], 1):.2f}")  # fmt: skip


if __name__ == "__main__":
    main()
