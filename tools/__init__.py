"""The project's own tools, not the engine: ``python -m tools.reports_check`` (``make reports-check``: committed
reports regenerate byte for byte) and ``python -m tools.bench_sweep`` (``make bench-sweep``: a sweep slice's
throughput). They import albench like any user would; they are not shipped in the wheel."""
