"""Throughput: is training as fast as it was, and how close to the hardware's peak?

Benchmark cases and the timed Trainer-step runner (:mod:`~harness.throughput.runner`), the batches
they feed (:mod:`~harness.throughput.batches`), FLOP counts, measured and table peaks, memory, the
hardware each runs on, the same-machine relative check, and the pytest-benchmark bridge, report
and chart.
"""
