"""Runs llama.cpp's own tools on GGUF files that `quanta export` wrote and writes the
result table (markdown) for docs/export.md's "Measured" section and the README.

- `--check NAME GGUF EVAL_JSON`: `llama-perplexity` (ctx 512, first CHUNKS chunks) of the
  exported file must be within 1% of Quanta's figure for the same quantized model
  (`quanta eval perplexity --protocol llamacpp --windows CHUNKS --json`), and
  `llama-completion` must answer the chat prompt (the answer must name EXPECT).
- `--compare LABEL GGUF`: same-size rows; the first one (ours) must have the lowest
  perplexity of them.

Usage: llamacpp_interop.py --bin DIR --text FILE [--chunks 40] [--threads 2] --output FILE.md
       [--check NAME GGUF EVAL_JSON]... [--compare LABEL GGUF]...
Exits 1 when a check fails (the table says which)."""
import argparse
import json
import os
import re
import subprocess
import sys

parser = argparse.ArgumentParser()
parser.add_argument("--bin", required=True)
parser.add_argument("--text", required=True)
parser.add_argument("--chunks", type=int, default=40)
parser.add_argument("--threads", type=int, default=2)
parser.add_argument("--output", required=True)
parser.add_argument("--prompt", default="What is the capital of France?")
parser.add_argument("--expect", default="Paris")
parser.add_argument("--check", nargs=3, action="append", default=[], metavar=("NAME", "GGUF", "EVAL_JSON"))
parser.add_argument("--compare", nargs=2, action="append", default=[], metavar=("LABEL", "GGUF"))
arguments = parser.parse_args()
failures = []


def tool(name):
    return os.path.join(arguments.bin, name)


def perplexity(path):
    # The "Final estimate" line can go missing when output is redirected; the per-chunk
    # running values "[N]value" are always printed, the last one is the estimate.
    result = subprocess.run(
        [tool("llama-perplexity"), "-m", path, "-f", arguments.text, "-c", "512", "-b", "512",
         "--chunks", str(arguments.chunks), "-t", str(arguments.threads)],
        capture_output=True, text=True)
    values = re.findall(r"\[(\d+)\]([0-9.]+)", result.stdout + result.stderr)
    if result.returncode != 0 or not values:
        failures.append(f"llama-perplexity failed on {path}: {(result.stderr or result.stdout)[-400:]}")
        return float("nan")
    chunks, value = values[-1]
    if int(chunks) != arguments.chunks:
        failures.append(f"llama-perplexity on {path} scored {chunks} chunks, not {arguments.chunks}")
    return float(value)


def chat(path):
    result = subprocess.run(
        [tool("llama-completion"), "-m", path, "-cnv", "-st", "-p", arguments.prompt, "-n", "48", "--temp", "0",
         "-t", str(arguments.threads), "--no-display-prompt"],
        capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=300)
    answer = result.stdout.replace("[end of text]", "").strip().replace("\n", " ").replace("|", "/")
    if result.returncode != 0 or arguments.expect.lower() not in answer.lower():
        failures.append(f"llama-completion on {path} did not answer the chat prompt sensibly: '{answer[:120]}'")
    return answer


def types(path):
    from gguf import GGUFReader, GGMLQuantizationType
    counts = {}
    for tensor in GGUFReader(path).tensors:
        name = GGMLQuantizationType(tensor.tensor_type).name
        counts[name] = counts.get(name, 0) + 1
    return ", ".join(f"{count} {name}" for name, count in sorted(counts.items(), key=lambda item: -item[1]))


version = subprocess.run([tool("llama-perplexity"), "--version"], capture_output=True, text=True)
version_line = next((line for line in (version.stdout + version.stderr).splitlines() if line.startswith("version")), "unknown")
lines = [f"llama.cpp {version_line.removeprefix('version: ')}, {arguments.threads} threads, "
         f"WikiText-2 test, ctx 512, first {arguments.chunks} chunks.", ""]
if arguments.check:
    lines += ["| quantized model | GGUF tensor types | llama-perplexity | quanta eval (llamacpp protocol) | difference | llama-completion: \"" + arguments.prompt + "\" |",
              "|---|---|---|---|---|---|"]
    for name, path, evaluation in arguments.check:
        ours = json.load(open(evaluation))["ppl"]
        theirs = perplexity(path)
        difference = (theirs - ours) / ours
        if not abs(difference) < 0.01:
            failures.append(f"{name}: llama-perplexity {theirs:.4f} is not within 1% of Quanta's {ours:.4f}")
        lines.append(f"| {name} | {types(path)} | {theirs:.4f} | {ours:.4f} | {difference * 100:+.2f}% | {chat(path)[:100]} |")
    lines.append("")
if arguments.compare:
    lines += ["| same format, same size | GGUF tensor types | file size (MiB) | llama-perplexity |", "|---|---|---|---|"]
    results = []
    for label, path in arguments.compare:
        value = perplexity(path)
        results.append(value)
        lines.append(f"| {label} | {types(path)} | {os.path.getsize(path) / 2**20:.1f} | {value:.4f} |")
    if any(not results[0] < other for other in results[1:]):
        failures.append(f"'{arguments.compare[0][0]}' does not have the lowest perplexity of the same-size rows")
    lines.append("")
for failure in failures:
    lines.append(f"FAILED: {failure}")
text = "\n".join(lines) + "\n"
with open(arguments.output + ".partial", "w") as handle:
    handle.write(text)
os.replace(arguments.output + ".partial", arguments.output)
print(text)
sys.exit(1 if failures else 0)
