"""Checks a Hugging Face directory written by `quanta convert` with the ecosystem's own
libraries: `tokenizers` must load tokenizer.json and give the fixture's ids, and
`transformers` must load the model and reproduce the fixture's logits.

Usage: check_hf_directory.py MODEL_DIR SHARED_DIR
Prints one JSON object; exits 1 on any mismatch (the message says which)."""
import json
import sys

model_dir, shared = sys.argv[1], sys.argv[2]
reference = json.load(open(f"{shared}/fixtures/smollm2-reference.json"))
failures = []
report = {}

from tokenizers import Tokenizer

ours = Tokenizer.from_file(f"{model_dir}/tokenizer.json")
fixture = Tokenizer.from_file(f"{shared}/fixtures/smollm2-tokenizer.json")
# The fixture tokenizer, run by Hugging Face `tokenizers`, is the reference. The stored ids
# of 'numbers_spaces' are llama.cpp's, which split runs of spaces before digits differently
# from `tokenizers` (reported in the issue notes); every other stored string must match too.
for name, item in reference["tokenizer"]["strings"].items():
    ids = ours.encode(item["text"], add_special_tokens=False).ids
    if ids != fixture.encode(item["text"], add_special_tokens=False).ids:
        failures.append(f"tokenizer string '{name}': ids differ from the fixture tokenizer")
    if name != "numbers_spaces" and ids != item["ids"]:
        failures.append(f"tokenizer string '{name}': ids differ from the stored fixture ids")
import hashlib
import struct

text = open(f"{shared}/data/wikitext-2-raw/wiki.test.raw", "rb").read().decode("utf-8")
ids = ours.encode(text, add_special_tokens=False).ids
expected = reference["perplexity_fp32"]["test_file"]
digest = hashlib.sha256(struct.pack(f"<{len(ids)}i", *ids)).hexdigest()
report["wikitext_tokens"] = len(ids)
if len(ids) != expected["total_tokens"] or digest != expected["token_ids_sha256_int32le"]:
    failures.append(f"tokenizer: WikiText test file gives {len(ids)} ids (sha {digest[:12]}), fixture {expected['total_tokens']}")

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

torch.set_num_threads(1)
model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
model.eval()
AutoTokenizer.from_pretrained(model_dir)  # tokenizer_config.json must load too
for name in ("plain", "chat"):
    item = reference["logits"][name]
    with torch.no_grad():
        logits = model(torch.tensor([item["ids"]])).logits[0, -1]
    top = torch.topk(logits, 10)
    report[f"{name}_top10_ids"] = top.indices.tolist()
    if top.indices.tolist() != item["last_top10_ids"]:
        failures.append(f"logits '{name}': top-10 ids {top.indices.tolist()} != fixture {item['last_top10_ids']}")
    expected = torch.tensor(item["last_top10_logits"])
    if not torch.allclose(top.values, expected, rtol=1e-3, atol=1e-3):
        failures.append(f"logits '{name}': top-10 logits differ beyond 1e-3")
    lse = torch.logsumexp(logits, 0).item()
    if abs(lse - item["last_logsumexp"]) > 1e-3 * abs(item["last_logsumexp"]):
        failures.append(f"logits '{name}': logsumexp {lse} != fixture {item['last_logsumexp']}")

report["failures"] = failures
print(json.dumps(report))
sys.exit(1 if failures else 0)
