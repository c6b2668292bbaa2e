"""Tiny random transformers models, saved as safetensors, and probes that name the modules the adapters map.

Each `Family` says how to build a tiny model of one ``model_type``, where its blocks are, which real
modules compute q/k/v/o and the MLP, how to cut a fused projection's output into per-head outputs,
and which norm gains each sublayer reads through. `build` saves both the task model and its base model.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import transformers
from safetensors.torch import load_file
from torch import nn

SIZES = {"hidden_size": 32, "num_attention_heads": 4, "num_hidden_layers": 2, "vocab_size": 64}
"""Shared tiny sizes: width 32, 4 heads of 8, 2 layers."""

Slicer = Callable[[torch.Tensor], torch.Tensor]
"""Cuts one kind (q, k or v) out of a projection's output (..., out) as per-head outputs (..., heads, d_head)."""


@dataclass(frozen=True)
class AttentionProbe:
    """The real modules of one attention: q/k/v reads with their slicers, and the output projection."""

    reads: dict[str, tuple[nn.Module, Slicer]]
    write: nn.Module


@dataclass(frozen=True)
class MlpProbe:
    """An MLP as modules: ``entry``'s input is x, ``exit``'s output is ``down(act(…)) + b_down``."""

    entry: nn.Module
    exit: nn.Module
    act: Callable[[torch.Tensor], torch.Tensor]
    up_bias: torch.Tensor | None = None
    down_bias: torch.Tensor | None = None


@dataclass(frozen=True)
class Family:
    """How to build, save and probe a tiny model of one family."""

    model_type: str
    config: Callable[[], Any]
    task_class: str
    prefixes: tuple[str, str]
    """The adapter's expected prefix for the task model's checkpoint, then the base model's."""
    blocks: Callable[[nn.Module], Sequence[nn.Module]]
    attention: Callable[[nn.Module, Any], AttentionProbe]
    mlp: Callable[[nn.Module], MlpProbe] | None
    """The block's dense MLP; ``None`` for a mixture of experts, which its own tests probe."""
    gains: Callable[[Sequence[nn.Module], int], tuple[torch.Tensor | None, torch.Tensor | None]]
    """Layer i's expected attention and MLP read gains, from the norm modules."""


@dataclass
class Built:
    """A tiny model in eval mode and the directories its task and base checkpoints were saved to."""

    family: Family
    model: nn.Module
    task_dir: Path
    base_dir: Path
    blocks: Sequence[nn.Module]


def head_dims(config: Any) -> tuple[int, int, int]:
    """(H, H_kv, d_head) of a transformers config."""
    H = config.num_attention_heads
    H_kv = getattr(config, "num_key_value_heads", None) or H
    d_head = getattr(config, "head_dim", None) or config.hidden_size // H
    return H, H_kv, d_head


def per_head(heads: int, d_head: int, start: int = 0) -> Slicer:
    """Columns ``start : start + heads·d_head`` of the output, split into heads."""
    return lambda y: y[..., start : start + heads * d_head].unflatten(-1, (heads, d_head))


def interleaved(heads: int, d_head: int, index: int) -> Slicer:
    """Kind ``index`` (0 = q, 1 = k, 2 = v) of an output grouped by head as (heads, 3·d_head)."""
    return lambda y: y.unflatten(-1, (heads, 3 * d_head))[..., index * d_head : (index + 1) * d_head]


def separate_reads(config: Any, q: nn.Module, k: nn.Module, v: nn.Module, write: nn.Module) -> AttentionProbe:
    """Three separate q/k/v projections (GQA-aware)."""
    H, H_kv, d_head = head_dims(config)
    return AttentionProbe(
        {"q": (q, per_head(H, d_head)), "k": (k, per_head(H_kv, d_head)), "v": (v, per_head(H_kv, d_head))}, write
    )


def _llama_attention(block: nn.Module, config: Any) -> AttentionProbe:
    a = block.self_attn
    return separate_reads(config, a.q_proj, a.k_proj, a.v_proj, a.o_proj)


def _llama_gains(blocks: Sequence[nn.Module], i: int) -> tuple[torch.Tensor, torch.Tensor]:
    return blocks[i].input_layernorm.weight, blocks[i].post_attention_layernorm.weight


def _gemma_gains(blocks: Sequence[nn.Module], i: int) -> tuple[torch.Tensor, torch.Tensor]:
    return blocks[i].input_layernorm.weight + 1, blocks[i].post_attention_layernorm.weight + 1


def llama_like(model_type: str, config_class: str, task_class: str, **extra: Any) -> Family:
    """A llama-style family: separate GQA projections, gated MLP, two RMSNorms per block."""
    sizes = {**SIZES, "num_key_value_heads": 2, "intermediate_size": 48, **extra}
    return Family(
        model_type,
        lambda: getattr(transformers, config_class)(**sizes),
        task_class,
        ("model.", ""),
        lambda base: base.layers,
        _llama_attention,
        lambda block: MlpProbe(block.mlp, block.mlp, block.mlp.act_fn),
        _gemma_gains if model_type == "gemma" else _llama_gains,
    )


def _gpt2_attention(block: nn.Module, config: Any) -> AttentionProbe:
    H, _, d_head = head_dims(config)
    d = config.hidden_size
    fused = block.attn.c_attn
    return AttentionProbe(
        {kind: (fused, per_head(H, d_head, i * d)) for i, kind in enumerate("qkv")}, block.attn.c_proj
    )


def _neox_attention(block: nn.Module, config: Any) -> AttentionProbe:
    H, _, d_head = head_dims(config)
    fused = block.attention.query_key_value
    return AttentionProbe(
        {kind: (fused, interleaved(H, d_head, i)) for i, kind in enumerate("qkv")}, block.attention.dense
    )


def _phi3_attention(block: nn.Module, config: Any) -> AttentionProbe:
    H, H_kv, d_head = head_dims(config)
    fused = block.self_attn.qkv_proj
    starts = {"q": (H, 0), "k": (H_kv, H * d_head), "v": (H_kv, (H + H_kv) * d_head)}
    return AttentionProbe(
        {kind: (fused, per_head(heads, d_head, start)) for kind, (heads, start) in starts.items()},
        block.self_attn.o_proj,
    )


def _bert_attention(block: nn.Module, config: Any) -> AttentionProbe:
    s = block.attention.self
    return separate_reads(config, s.query, s.key, s.value, block.attention.output.dense)


def _post_ln_gains(
    first: str, second: str
) -> Callable[[Sequence[nn.Module], int], tuple[torch.Tensor | None, torch.Tensor]]:
    """Post-LN: attention reads through the previous block's ``second`` norm, the MLP through ``first``."""

    def gains(blocks: Sequence[nn.Module], i: int) -> tuple[torch.Tensor | None, torch.Tensor]:
        attn = blocks[i - 1].get_submodule(second).weight if i > 0 else None
        return attn, blocks[i].get_submodule(first).weight

    return gains


def bert_like(model_type: str, config_class: str, task_class: str) -> Family:
    """bert or roberta: post-LN encoder."""
    return Family(
        model_type,
        lambda: getattr(transformers, config_class)(**SIZES, intermediate_size=48),
        task_class,
        (f"{model_type}.", ""),
        lambda base: base.encoder.layer,
        _bert_attention,
        lambda block: MlpProbe(
            block.intermediate,
            block.output.dense,
            block.intermediate.intermediate_act_fn,
            block.intermediate.dense.bias,
            block.output.dense.bias,
        ),
        _post_ln_gains("attention.output.LayerNorm", "output.LayerNorm"),
    )


def opt_family(pre_norm: bool) -> Family:
    """OPT, pre-LN (most checkpoints) or post-LN (opt-350m)."""

    def gains(blocks: Sequence[nn.Module], i: int) -> tuple[torch.Tensor | None, torch.Tensor]:
        if pre_norm:
            return blocks[i].self_attn_layer_norm.weight, blocks[i].final_layer_norm.weight
        return _post_ln_gains("self_attn_layer_norm", "final_layer_norm")(blocks, i)

    return Family(
        "opt",
        lambda: transformers.OPTConfig(
            hidden_size=32,
            num_attention_heads=4,
            num_hidden_layers=2,
            vocab_size=64,
            ffn_dim=48,
            word_embed_proj_dim=32,
            do_layer_norm_before=pre_norm,
        ),
        "OPTForCausalLM",
        ("model.decoder.", "decoder."),
        lambda base: base.decoder.layers,
        lambda block, config: separate_reads(
            config, block.self_attn.q_proj, block.self_attn.k_proj, block.self_attn.v_proj, block.self_attn.out_proj
        ),
        lambda block: MlpProbe(block.fc1, block.fc2, block.activation_fn, block.fc1.bias, block.fc2.bias),
        gains,
    )


FAMILIES: dict[str, Family] = {
    "llama": llama_like("llama", "LlamaConfig", "LlamaForCausalLM"),
    "mistral": llama_like("mistral", "MistralConfig", "MistralForCausalLM"),
    "qwen2": llama_like("qwen2", "Qwen2Config", "Qwen2ForCausalLM"),
    "qwen3": llama_like("qwen3", "Qwen3Config", "Qwen3ForCausalLM", head_dim=16),
    "gemma": llama_like("gemma", "GemmaConfig", "GemmaForCausalLM", head_dim=16),
    "gpt2": Family(
        "gpt2",
        lambda: transformers.GPT2Config(n_embd=32, n_head=4, n_layer=2, vocab_size=64, n_positions=64),
        "GPT2LMHeadModel",
        ("transformer.", ""),
        lambda base: base.h,
        _gpt2_attention,
        lambda block: MlpProbe(block.mlp, block.mlp, block.mlp.act, block.mlp.c_fc.bias, block.mlp.c_proj.bias),
        lambda blocks, i: (blocks[i].ln_1.weight, blocks[i].ln_2.weight),
    ),
    "gpt_neox": Family(
        "gpt_neox",
        lambda: transformers.GPTNeoXConfig(**SIZES, intermediate_size=48, max_position_embeddings=64),
        "GPTNeoXForCausalLM",
        ("gpt_neox.", ""),
        lambda base: base.layers,
        _neox_attention,
        lambda block: MlpProbe(
            block.mlp, block.mlp, block.mlp.act, block.mlp.dense_h_to_4h.bias, block.mlp.dense_4h_to_h.bias
        ),
        lambda blocks, i: (blocks[i].input_layernorm.weight, blocks[i].post_attention_layernorm.weight),
    ),
    "bert": bert_like("bert", "BertConfig", "BertForMaskedLM"),
    "roberta": bert_like("roberta", "RobertaConfig", "RobertaForMaskedLM"),
    "distilbert": Family(
        "distilbert",
        lambda: transformers.DistilBertConfig(dim=32, n_heads=4, n_layers=2, hidden_dim=48, vocab_size=64),
        "DistilBertForMaskedLM",
        ("distilbert.", ""),
        lambda base: base.transformer.layer,
        lambda block, config: separate_reads(
            config, block.attention.q_lin, block.attention.k_lin, block.attention.v_lin, block.attention.out_lin
        ),
        lambda block: MlpProbe(block.ffn, block.ffn, block.ffn.activation, block.ffn.lin1.bias, block.ffn.lin2.bias),
        _post_ln_gains("sa_layer_norm", "output_layer_norm"),
    ),
    "phi3": Family(
        "phi3",
        lambda: transformers.Phi3Config(**SIZES, num_key_value_heads=2, intermediate_size=48, pad_token_id=0),
        "Phi3ForCausalLM",
        ("model.", ""),
        lambda base: base.layers,
        _phi3_attention,
        lambda block: MlpProbe(block.mlp, block.mlp, block.mlp.activation_fn),
        _llama_gains,
    ),
    "opt": opt_family(pre_norm=True),
    "opt_post_ln": opt_family(pre_norm=False),
    "mixtral": Family(
        "mixtral",
        lambda: transformers.MixtralConfig(
            **SIZES, num_key_value_heads=2, intermediate_size=48, num_local_experts=3, num_experts_per_tok=2
        ),
        "MixtralForCausalLM",
        ("model.", ""),
        lambda base: base.layers,
        _llama_attention,
        None,
        _llama_gains,
    ),
}
"""Every transformer family, keyed by test id (``opt_post_ln`` is OPT with ``do_layer_norm_before`` off)."""


def perturb_vectors(model: nn.Module) -> None:
    """Move every bias and norm gain off its init (0 or 1), so a wrong bias or gain cannot pass by accident."""
    with torch.no_grad():
        for parameter in model.parameters():
            if parameter.ndim == 1:
                parameter.add_(0.1 * torch.randn_like(parameter))


def build(family: Family, directory: Path, seed: int = 0, **save_options: Any) -> Built:
    """Build a tiny random model of ``family`` and save its task and base checkpoints under ``directory``."""
    torch.manual_seed(seed)
    model = getattr(transformers, family.task_class)(family.config()).eval()
    perturb_vectors(model)
    task_dir, base_dir = directory / "task", directory / "base"
    model.save_pretrained(task_dir, **save_options)
    model.base_model.save_pretrained(base_dir, **save_options)
    return Built(family, model, task_dir, base_dir, family.blocks(model.base_model))


def load_checkpoint(directory: Path) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """config.json and every tensor of a single-file safetensors checkpoint."""
    config = json.loads((directory / "config.json").read_text())
    return config, load_file(directory / "model.safetensors")


@dataclass
class Call:
    """A module's first input and its output from one forward pass."""

    args: tuple[Any, ...]
    output: Any

    @property
    def x(self) -> torch.Tensor:
        """The first positional input."""
        return self.args[0]


@contextmanager
def capture(modules: dict[Any, nn.Module]) -> Iterator[dict[Any, Call]]:
    """Record each module's inputs and output while the block runs (first call wins)."""
    calls: dict[Any, Call] = {}

    def recorder(key: Any) -> Callable[..., None]:
        def hook(module: nn.Module, args: tuple[Any, ...], output: Any) -> None:
            calls.setdefault(key, Call(tuple(a.detach() if torch.is_tensor(a) else a for a in args), output.detach()))

        return hook

    handles = [module.register_forward_hook(recorder(key)) for key, module in modules.items()]
    try:
        yield calls
    finally:
        for handle in handles:
            handle.remove()


def run_forward(model: nn.Module, vocab_size: int, seed: int = 1) -> None:
    """Run the model once on random token ids."""
    generator = torch.Generator().manual_seed(seed)
    input_ids = torch.randint(3, vocab_size, (2, 7), generator=generator)
    with torch.no_grad():
        model(input_ids=input_ids)
