"""History: how quality and speed moved across commits, machine by machine.

The records one ``pytest benchmarks`` session leaves (:mod:`~harness.history.records`), the SQLite
file that keeps them safely shared by several writers (:mod:`~harness.history.store`), the series
read back from it, split so that none mixes machines or baselines (:mod:`~harness.history.series`),
the detection of steps in a throughput series, with its simulated error rates
(:mod:`~harness.history.change_points`), and the trend over the last commits that ``harness history``
prints (:mod:`~harness.history.trend`) and draws (:mod:`~harness.history.chart`).
"""
