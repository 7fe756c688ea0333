"""Per-round balanced accuracy of one method's cells of a suite, as JSON: to compare CPU numerics.

Run it under different kernel settings and compare the outputs, e.g.::

    env ATEN_CPU_CAPABILITY=avx2 DNNL_MAX_CPU_ISA=AVX2 MKL_CBWR=AVX2 python -m tools.numerics_probe quick least_confidence
    env ATEN_CPU_CAPABILITY=default DNNL_MAX_CPU_ISA=SSE41 MKL_CBWR=COMPATIBLE python -m tools.numerics_probe quick least_confidence

(the settings must be in the environment before torch is imported, hence ``env``). Measured figures:
docs/measurements.md, "CPU numerics across instruction sets".
"""
from __future__ import annotations

import argparse
import json
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="numerics-probe", description=__doc__.splitlines()[0])
    parser.add_argument("suite")
    parser.add_argument("method", help="the method name whose cells run (every seed of the suite)")
    parser.add_argument("--data-root", default=None)
    args = parser.parse_args(argv)

    import torch

    from benchmark.core.registry import discover
    from benchmark.execute.suite import load_suite
    from benchmark.scenarios.runner import run_cell

    discover()
    cells = [c for c in load_suite(args.suite).cells if c.method.name == args.method]
    if not cells:
        parser.error(f"suite {args.suite!r} has no cell of method {args.method!r}")
    accuracy = {str(c.seed): [round(float(x), 12) for x in run_cell(c, args.data_root).rounds["balanced_accuracy"]]
                for c in cells}
    print(json.dumps({"cpu_capability": torch.backends.cpu.get_cpu_capability(), "balanced_accuracy": accuracy}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
