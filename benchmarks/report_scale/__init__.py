"""The parts of benchmarks/reports.py: the seeded company and its rows, the bulk load, the
hand-written SQL floors, the checks, and the timing."""
