"""Loads a compressed-tensors directory written by `quanta export` with Hugging Face
`transformers` and the `compressed-tensors` package (CPU, dequantize=True), compares every
decompressed linear with the simulated weights it came from, and measures WikiText-2
perplexity (gptq protocol: the first WINDOWS windows of 2048 tokens of the file tokenized
without special tokens, every position scored), which must equal Quanta's figure for the
simulated model within 0.1%.

Usage: check_compressed_tensors.py CT_DIR SIMULATED_DIR TEXT QUANTA_PPL [WINDOWS]
Prints one JSON object; exits 1 on any mismatch."""
import json
import math
import sys

import torch
from safetensors.numpy import load_file
from tokenizers import Tokenizer
from transformers import AutoModelForCausalLM, CompressedTensorsConfig

ct_dir, simulated_dir, text_path, quanta_ppl = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
windows = int(sys.argv[5]) if len(sys.argv) > 5 else 2
torch.set_num_threads(2)
failures = []
model = AutoModelForCausalLM.from_pretrained(
    ct_dir, dtype=torch.float32, quantization_config=CompressedTensorsConfig(dequantize=True)).eval()
state = model.state_dict()
reference = load_file(f"{simulated_dir}/model.safetensors")
worst = 0.0
for name, expected in reference.items():
    if name not in state:
        if name == "lm_head.weight" or name.startswith("model.embed_tokens"):
            continue
        failures.append(f"{name} is missing after loading")
        continue
    difference = (state[name].float() - torch.from_numpy(expected).float()).abs().max().item()
    worst = max(worst, difference)
report = {"directory": ct_dir, "max_abs_weight_difference": worst}
if worst > 1e-6:
    failures.append(f"decompressed weights differ from the simulated ones by {worst:.3g}")

# Raw bytes, no newline translation (the file has CRLF line ends), as Quanta reads it.
ids = Tokenizer.from_file(f"{ct_dir}/tokenizer.json").encode(open(text_path, "rb").read().decode("utf-8"), add_special_tokens=False).ids
total, count = 0.0, 0
with torch.no_grad():
    for window in range(windows):
        tokens = torch.tensor([ids[window * 2048:(window + 1) * 2048]])
        logits = model(tokens).logits[0, :-1].double()
        total += torch.nn.functional.cross_entropy(logits, tokens[0, 1:], reduction="sum").item()
        count += tokens.shape[1] - 1
ppl = math.exp(total / count)
report.update({"transformers_ppl": ppl, "quanta_ppl": quanta_ppl, "relative_difference": abs(ppl - quanta_ppl) / quanta_ppl})
if report["relative_difference"] > 1e-3:
    failures.append(f"perplexity {ppl:.4f} differs from Quanta's {quanta_ppl:.4f} by more than 0.1%")
report["failures"] = failures
print(json.dumps(report))
sys.exit(1 if failures else 0)
