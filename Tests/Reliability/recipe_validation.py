"""Summarizes `quanta validate --json` results of every recipe's container as a Markdown table.

Usage: recipe_validation.py --windows N out/validate/*.json > docs/recipe-validation.md
Exits 1 when any container failed its validation (or left no result).
"""
import json
import pathlib
import sys


def main(arguments):
    windows = arguments[arguments.index("--windows") + 1]
    paths = [pathlib.Path(a) for a in arguments if a.endswith(".json")]
    rows, failures, protocol = [], 0, "llamacpp protocol, windows of 512 tokens"
    for path in sorted(paths):
        recipe = path.stem
        try:
            result = json.loads(path.read_text())
        except (OSError, ValueError) as error:
            rows.append(f"| {recipe} | – | – | – | – | – | no result ({error}) |")
            failures += 1
            continue
        protocol = f"{result['protocol']} protocol, windows of {result['context']} tokens"
        passed = bool(result.get("passed"))
        failures += 0 if passed else 1
        rows.append(
            f"| {recipe} | {result['ppl_packed']:.4f} | {result['ppl_simulated']:.4f} "
            f"| {100 * result['relative_difference']:.4f}% | {result['ppl_fp']:.4f} "
            f"| {result['mean_kld']:.5f} | {'PASS' if passed else 'FAIL'} |")
    print("# Every recipe's container against its own simulation\n")
    print(f"`make validate-recipes`: each recipe under `recipes/` quantizes SmolLM2-135M-Instruct into a "
          f"`.quanta` container, and `quanta validate` runs it on the packed kernels beside the simulated "
          f"(dequantized) model: {protocol}, {windows} window(s) of WikiText-2 test. "
          f"A container passes when the two perplexities differ by at most 0.05%.\n")
    print("| recipe | ppl packed | ppl simulated | difference | ppl FP | KL vs FP | result |")
    print("|---|---|---|---|---|---|---|")
    print("\n".join(rows))
    print(f"\n{len(rows) - failures} of {len(rows)} containers pass.")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
