"""Benchmarks: a scale generator, the DuckDB-only floor, and a runner that times tokenpnl against it."""
