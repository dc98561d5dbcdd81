"""Checks a GGUF written by `quanta export` against the simulated directory it came from,
with the Python `gguf` package's own reader and dequantizer (`gguf.quants.dequantize`):
every tensor, after undoing llama.cpp's Q/K row permutation, must equal the simulated
weights in model.safetensors exactly, or for Q4_1 within the f16 rounding of m (each
block's |m|·2^-11 plus float32 rounding). Also checks the metadata llama.cpp requires.

Usage: check_gguf.py SIMULATED_DIR FILE.gguf
Prints one JSON object; exits 1 on any mismatch (the message says which)."""
import json
import sys

import numpy as np
from gguf import GGUFReader, GGMLQuantizationType
from gguf.quants import dequantize
from safetensors.numpy import load_file

model_dir, path = sys.argv[1], sys.argv[2]
config = json.load(open(f"{model_dir}/config.json"))
reference = load_file(f"{model_dir}/model.safetensors")
reader = GGUFReader(path)
failures, report = [], {"file": path, "types": {}, "max_abs_error": {}}

for key in ("general.architecture", "llama.context_length", "llama.embedding_length", "llama.block_count",
            "llama.attention.layer_norm_rms_epsilon", "tokenizer.ggml.model", "tokenizer.ggml.tokens",
            "tokenizer.ggml.merges", "tokenizer.ggml.pre"):
    if key not in reader.fields:
        failures.append(f"metadata key {key} is missing")

layer_names = {"attn_norm": "input_layernorm", "ffn_norm": "post_attention_layernorm", "attn_q": "self_attn.q_proj",
               "attn_k": "self_attn.k_proj", "attn_v": "self_attn.v_proj", "attn_output": "self_attn.o_proj",
               "ffn_gate": "mlp.gate_proj", "ffn_up": "mlp.up_proj", "ffn_down": "mlp.down_proj"}
global_names = {"token_embd.weight": "model.embed_tokens.weight", "output_norm.weight": "model.norm.weight",
                "output.weight": "lm_head.weight"}


def hf_name(name):
    if name in global_names:
        return global_names[name]
    _, layer, part, suffix = name.split(".")
    return f"model.layers.{layer}.{layer_names[part]}.{suffix}"


def unpermute(weights, heads):
    # Inverse of convert_hf_to_gguf.py LlamaModel.permute (reshape(heads, 2, d/2).swapaxes(1, 2)).
    rows = weights.shape[0]
    return weights.reshape(heads, rows // heads // 2, 2, *weights.shape[1:]).swapaxes(1, 2).reshape(weights.shape)


def q4_1_bound(raw, shape):
    # |m| of each 32-element block (bytes 2..3 of each 20-byte block), spread over its elements.
    blocks = np.frombuffer(raw.tobytes(), dtype=np.uint8).reshape(-1, 20)
    m = blocks[:, 2:4].copy().view(np.float16).astype(np.float32).reshape(-1)
    return np.repeat(np.abs(m) * 2.0**-11, 32).reshape(shape)


seen = set()
for tensor in reader.tensors:
    name = hf_name(tensor.name)
    seen.add(name)
    kind = GGMLQuantizationType(tensor.tensor_type).name
    report["types"][kind] = report["types"].get(kind, 0) + 1
    values = dequantize(tensor.data, tensor.tensor_type).astype(np.float32)
    if ".attn_q." in tensor.name:
        values = unpermute(values, config["num_attention_heads"])
    elif ".attn_k." in tensor.name:
        values = unpermute(values, config["num_key_value_heads"])
    expected = reference[name].astype(np.float32)
    if values.shape != expected.shape:
        failures.append(f"{tensor.name}: shape {values.shape} != {expected.shape}")
        continue
    error = np.abs(values - expected)
    report["max_abs_error"][kind] = max(report["max_abs_error"].get(kind, 0.0), float(error.max()))
    if kind == "Q4_1":
        bound = q4_1_bound(tensor.data, values.shape) + 2 * np.finfo(np.float32).eps * np.abs(expected) + 1e-12
        if ".attn_q." in tensor.name or ".attn_k." in tensor.name:
            heads = config["num_attention_heads" if ".attn_q." in tensor.name else "num_key_value_heads"]
            bound = unpermute(bound, heads)
        if (error > bound).any():
            failures.append(f"{tensor.name}: Q4_1 error {float(error.max()):.3g} exceeds the f16 rounding of m")
    elif kind == "F16":
        if not np.array_equal(values, expected.astype(np.float16).astype(np.float32)):
            failures.append(f"{tensor.name}: F16 values differ from the simulated weights rounded to f16")
    elif error.max() != 0:
        failures.append(f"{tensor.name}: {kind} differs from the simulated weights by {float(error.max()):.3g}")

missing = sorted(set(reference) - seen - ({"lm_head.weight"} if config.get("tie_word_embeddings") else set()))
if missing:
    failures.append(f"tensors missing from the GGUF: {missing[:5]}")
report["tensors"] = len(reader.tensors)
report["failures"] = failures
print(json.dumps(report))
sys.exit(1 if failures else 0)
