"""Benchmarks of the course servers; see README.md."""
