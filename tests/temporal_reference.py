"""The reference TCAF's state-dict layout, enumerated from its model code (ExplainableML/TCAF-GZSL,
`Multimodal_Sequence_Transformer` with its best configurations), independently of our modules.

`reference_layout(config, audio_dim, video_dim)` lists every state-dict key of the reference model
with its shape and whether it is a parameter (BatchNorm statistics and the Fourier matrix are
buffers). The reference registers its embedding block under two names (`position_encoder_block`
and `audiovisual_embeddings`), so its state dict holds those tensors twice while `parameters()`
counts them once: `reference_parameter_count` does the same.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

Layout = dict[str, tuple[tuple[int, ...], bool]]  # key -> (shape, is a parameter)
WORD_DIM = 300  # the reference's word2vec width, hard-coded in its model
ALIASES = ("position_encoder_block", "audiovisual_embeddings")


def embedding_net(prefix: str, in_dim: int, out_dim: int, hidden: int | None = None) -> Layout:
    """The reference `EmbeddingNet` (batch norm on): `fc` = [Linear, BN, ReLU, Dropout] once or twice."""
    widths = [(in_dim, hidden), (hidden, out_dim)] if hidden else [(in_dim, out_dim)]
    layout: Layout = {}
    for block, (a, b) in enumerate(widths):
        assert a is not None and b is not None
        linear, norm = f"{prefix}.fc.{4 * block}", f"{prefix}.fc.{4 * block + 1}"
        layout[f"{linear}.weight"] = ((b, a), True)
        layout[f"{linear}.bias"] = ((b,), True)
        layout[f"{norm}.weight"] = ((b,), True)
        layout[f"{norm}.bias"] = ((b,), True)
        layout[f"{norm}.running_mean"] = ((b,), False)
        layout[f"{norm}.running_var"] = ((b,), False)
        layout[f"{norm}.num_batches_tracked"] = ((), False)
    return layout


def embedding_block(prefix: str, width: int, embed: int) -> Layout:
    """`AudioVisualEmbedding` with modality embedding, sinusoid time embedding, no spatial part."""
    return {
        f"{prefix}.modal_embedding.weight": ((2, embed), True),
        f"{prefix}.fourier_randn": ((2, embed // 2), False),
        f"{prefix}.fourier_embeddings.weight": ((embed, embed), True),
        f"{prefix}.fourier_embeddings.bias": ((embed,), True),
        f"{prefix}.pad_embedding.weight": ((1, embed), True),
        f"{prefix}.out_proj_audio.weight": ((width, width + embed, 1), True),
        f"{prefix}.out_proj_audio.bias": ((width,), True),
        f"{prefix}.out_proj_video.weight": ((width, width + embed, 1), True),
        f"{prefix}.out_proj_video.bias": ((width,), True),
    }


def transformer(config: Mapping[str, Any]) -> Layout:
    width, inner, mlp = config["transformer_dim"], config["transformer_heads"] * config["transformer_dim_head"], 128
    layout: Layout = {}
    for index in range(config["transformer_depth"]):
        layer = f"Audio_visual_transformer.layers.{index}"
        for name in ("to_q", "to_k", "to_v"):
            layout[f"{layer}.attn.{name}.weight"] = ((inner, width), True)
        layout[f"{layer}.attn.to_out.0.weight"] = ((width, inner), True)
        layout[f"{layer}.attn.to_out.0.bias"] = ((width,), True)
        layout[f"{layer}.ff.net.0.weight"] = ((mlp, width), True)
        layout[f"{layer}.ff.net.0.bias"] = ((mlp,), True)
        layout[f"{layer}.ff.net.3.weight"] = ((width, mlp), True)
        layout[f"{layer}.ff.net.3.bias"] = ((width,), True)
        layout[f"{layer}.norm.weight"] = ((width,), True)
        layout[f"{layer}.norm.bias"] = ((width,), True)
    return layout


def reference_layout(config: Mapping[str, Any], audio_dim: int, video_dim: int) -> Layout:
    """Every key of the reference model's `state_dict()` (insertion order is irrelevant here)."""
    width, hidden, out, decoder = config["transformer_dim"], config["embeddings_hidden_size"], 64, 512
    layout: Layout = {}
    layout.update(embedding_net("A_enc", audio_dim, width, hidden))
    layout.update(embedding_net("V_enc", video_dim, width, hidden))
    layout.update(embedding_net("W_proj", WORD_DIM, out))
    layout.update(embedding_net("D_w", out, WORD_DIM))
    layout["cls_token"] = ((1, 1, width), True)
    for alias in ALIASES:
        layout.update(embedding_block(alias, width, 64))
    layout.update(transformer(config))
    layout.update(embedding_net("O_proj", width, out, decoder))
    layout.update(embedding_net("D_o", out, width, decoder))
    return layout


def reference_parameter_count(config: Mapping[str, Any], audio_dim: int, video_dim: int) -> int:
    """`sum(p.numel() for p in model.parameters())` of the reference (each aliased tensor once)."""
    layout = reference_layout(config, audio_dim, video_dim)
    return sum(
        math.prod(shape) for key, (shape, parameter) in layout.items() if parameter and not key.startswith(ALIASES[1])
    )
