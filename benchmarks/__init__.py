"""The harness's own benchmarks: make bench-harness, bench-noise, bench-gate."""
