"""Benchmark harness: times each stage of one period at a chosen scale."""
