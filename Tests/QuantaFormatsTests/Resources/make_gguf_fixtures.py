#!/usr/bin/env python3
"""Writes the tiny GGUF fixtures of the GGUF tests and their expected values.

Run from anywhere: python3 make_gguf_fixtures.py  (needs numpy and gguf; tested with gguf 0.19.0)
Outputs into ./gguf next to this script:
  quants.gguf            one [2, 256] tensor per type, named after the type (F32 ... Q6_K)
  quants-<TYPE>.f32      gguf.quants.dequantize of that tensor's bytes, float32 little-endian
  metadata.gguf/.json    one key per GGUF value type (nested arrays too) and the expected values
  tiny-llama.gguf        a 2-layer llama with a 10-token byte-level BPE vocabulary
  tiny-llama.json        expected HF names, shapes, offsets into tiny-llama.f32, and config
  tiny-llama.f32         expected HF tensors (Q/K un-permuted) concatenated, float32 LE
Everything is seeded, so re-running reproduces the same bytes.
"""
import json
import os

import numpy as np
import gguf
from gguf import GGMLQuantizationType as T
from gguf.constants import GGML_QUANT_SIZES

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "gguf")
rng = np.random.default_rng(20261129)


def f16_bytes(values):
    return np.asarray(values, dtype=np.float16).view(np.uint8)


def random_k_blocks(qtype, n_blocks):
    """Random K-quant blocks with finite, moderate f16 scales (gguf-py cannot quantize these)."""
    _, type_size = GGML_QUANT_SIZES[qtype]
    blocks = rng.integers(0, 256, size=(n_blocks, type_size), dtype=np.uint8)
    scales = f16_bytes(rng.uniform(-0.05, 0.05, size=(n_blocks, 2))).reshape(n_blocks, 4)
    if qtype in (T.Q4_K, T.Q5_K):  # d, dmin first
        blocks[:, 0:4] = scales
    elif qtype == T.Q6_K:  # d last
        blocks[:, -2:] = scales[:, 0:2]
    return blocks


def write_quants():
    writer = gguf.GGUFWriter(os.path.join(HERE, "quants.gguf"), arch="test")
    values = rng.standard_normal((2, 256)).astype(np.float32)
    special = np.array([0.0, -0.0, 65504.0, -65504.0, 6e-8, -6e-8, 1e-5, np.inf, -np.inf, 3.0e38], dtype=np.float32)
    for qtype in (T.F32, T.F16, T.BF16, T.Q8_0, T.Q4_0, T.Q4_1, T.Q5_0, T.Q5_1, T.Q4_K, T.Q5_K, T.Q6_K):
        if qtype in (T.Q4_K, T.Q5_K, T.Q6_K):
            raw = random_k_blocks(qtype, 2).reshape(2, -1)
        else:
            source = values.copy()
            if qtype in (T.F32, T.F16, T.BF16):
                source[0, : len(special)] = special
            raw = gguf.quants.quantize(source, qtype)
        if qtype == T.F32:
            writer.add_tensor(qtype.name, raw)
        else:
            writer.add_tensor(qtype.name, raw.view(np.uint8), raw_dtype=qtype)
        expected = gguf.quants.dequantize(raw.view(np.uint8) if qtype != T.F32 else raw, qtype)
        expected.astype("<f4").tofile(os.path.join(HERE, f"quants-{qtype.name}.f32"))
    finish(writer)


def write_metadata():
    V = gguf.GGUFValueType
    entries = [
        ("test.uint8", V.UINT8, 200), ("test.int8", V.INT8, -100), ("test.uint16", V.UINT16, 60000),
        ("test.int16", V.INT16, -30000), ("test.uint32", V.UINT32, 4000000000), ("test.int32", V.INT32, -2000000000),
        ("test.uint64", V.UINT64, 18000000000000000000), ("test.int64", V.INT64, -9000000000000000000),
        ("test.float32", V.FLOAT32, 0.15625), ("test.float64", V.FLOAT64, -1.0e-300),
        ("test.bool_true", V.BOOL, True), ("test.bool_false", V.BOOL, False),
        ("test.string", V.STRING, "héllo wörld ✓"),
        ("test.array_int32", V.ARRAY, [1, -2, 3]),
        ("test.array_string", V.ARRAY, ["a", "", "ccc"]),
        ("test.array_nested", V.ARRAY, [[1, 2], [3]]),
    ]
    writer = gguf.GGUFWriter(os.path.join(HERE, "metadata.gguf"), arch="test")
    writer.add_custom_alignment(64)
    writer.add_key_value("test.array_float32", [0.5, -1.25], V.ARRAY, sub_type=V.FLOAT32)
    for key, vtype, value in entries:
        writer.add_key_value(key, value, vtype)
    writer.add_tensor("small", np.arange(8, dtype=np.float32))
    finish(writer)
    expected = {"general.architecture": ["STRING", "test"], "general.alignment": ["UINT32", 64],
                "test.array_float32": ["ARRAY", [0.5, -1.25]]}
    expected.update({key: [vtype.name, value] for key, vtype, value in entries})
    with open(os.path.join(HERE, "metadata.json"), "w") as f:
        json.dump({"keys_in_order": list(expected.keys()), "values": expected}, f, indent=1, ensure_ascii=False)


def permute(weights, n_head, n_head_kv):
    """convert_hf_to_gguf.py LlamaModel.permute: HF rotate_half rows → llama.cpp interleaved rows."""
    if n_head_kv is not None and n_head != n_head_kv:
        n_head = n_head_kv
    return (weights.reshape(n_head, 2, weights.shape[0] // n_head // 2, *weights.shape[1:])
            .swapaxes(1, 2).reshape(weights.shape))


def write_tiny_llama():
    hidden, heads, kv_heads, ff, layers = 32, 4, 2, 32, 2
    head_dim = hidden // heads
    tokens = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "a", "b", "c", "Ġ", "ab", "Ġa", "abc"]
    token_types = [3, 3, 3, 1, 1, 1, 1, 1, 1, 1]
    merges = ["a b", "Ġ a", "ab c"]
    writer = gguf.GGUFWriter(os.path.join(HERE, "tiny-llama.gguf"), arch="llama")
    writer.add_block_count(layers)
    writer.add_context_length(128)
    writer.add_embedding_length(hidden)
    writer.add_feed_forward_length(ff)
    writer.add_head_count(heads)
    writer.add_head_count_kv(kv_heads)
    writer.add_rope_freq_base(10000.0)
    writer.add_layer_norm_rms_eps(1e-5)
    writer.add_vocab_size(len(tokens))
    writer.add_rope_dimension_count(head_dim)
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre("smollm")
    writer.add_token_list(tokens)
    writer.add_token_types(token_types)
    writer.add_token_merges(merges)
    writer.add_bos_token_id(1)
    writer.add_eos_token_id(2)
    writer.add_unk_token_id(0)
    writer.add_pad_token_id(2)
    writer.add_add_bos_token(False)
    writer.add_chat_template("{% for m in messages %}<|im_start|>{{ m['content'] }}<|im_end|>{% endfor %}")

    expected = []  # (hf name, float32 array)

    def add(gguf_name, hf_name, hf_values, qtype=T.F32, permute_heads=None):
        stored = hf_values if permute_heads is None else permute(hf_values, heads, permute_heads)
        if qtype == T.F32:
            writer.add_tensor(gguf_name, stored.astype(np.float32))
            value = hf_values
        else:
            raw = gguf.quants.quantize(stored.astype(np.float32), qtype)
            writer.add_tensor(gguf_name, raw, raw_dtype=qtype)
            assert permute_heads is None, "keep Q/K in F32 so the expectation is the HF original"
            value = gguf.quants.dequantize(raw, qtype)
        expected.append((hf_name, np.ascontiguousarray(value, dtype=np.float32)))

    def normal(*shape):
        return rng.standard_normal(shape).astype(np.float32)

    add("token_embd.weight", "model.embed_tokens.weight", normal(len(tokens), hidden), T.Q8_0)
    for layer in range(layers):
        p, h = f"blk.{layer}.", f"model.layers.{layer}."
        add(p + "attn_norm.weight", h + "input_layernorm.weight", normal(hidden))
        add(p + "attn_q.weight", h + "self_attn.q_proj.weight", normal(heads * head_dim, hidden), permute_heads=heads)
        add(p + "attn_k.weight", h + "self_attn.k_proj.weight", normal(kv_heads * head_dim, hidden), permute_heads=kv_heads)
        add(p + "attn_v.weight", h + "self_attn.v_proj.weight", normal(kv_heads * head_dim, hidden), T.Q8_0)
        add(p + "attn_output.weight", h + "self_attn.o_proj.weight", normal(hidden, heads * head_dim), T.Q4_1)
        add(p + "ffn_norm.weight", h + "post_attention_layernorm.weight", normal(hidden))
        add(p + "ffn_gate.weight", h + "mlp.gate_proj.weight", normal(ff, hidden), T.Q4_0)
        add(p + "ffn_up.weight", h + "mlp.up_proj.weight", normal(ff, hidden), T.Q5_1)
        add(p + "ffn_down.weight", h + "mlp.down_proj.weight", normal(hidden, ff), T.F16)
    add("output_norm.weight", "model.norm.weight", normal(hidden))
    finish(writer)

    table, offset = [], 0
    with open(os.path.join(HERE, "tiny-llama.f32"), "wb") as f:
        for name, value in expected:
            value.astype("<f4").tofile(f)
            table.append({"name": name, "shape": list(value.shape), "offset": offset})
            offset += value.size
    config = {"model_type": "llama", "hidden_size": hidden, "intermediate_size": ff, "num_hidden_layers": layers,
              "num_attention_heads": heads, "num_key_value_heads": kv_heads, "head_dim": head_dim,
              "max_position_embeddings": 128, "rms_norm_eps": 1e-5, "rope_theta": 10000.0, "vocab_size": len(tokens),
              "tie_word_embeddings": True, "bos_token_id": 1, "eos_token_id": 2, "pad_token_id": 2}
    with open(os.path.join(HERE, "tiny-llama.json"), "w") as f:
        json.dump({"tensors": table, "config": config, "tokens": tokens, "merges": [m.split(" ") for m in merges]},
                  f, indent=1, ensure_ascii=False)


def finish(writer):
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


if __name__ == "__main__":
    os.makedirs(HERE, exist_ok=True)
    write_quants()
    write_metadata()
    write_tiny_llama()
