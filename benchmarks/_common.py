"""Shared benchmark helpers: JSON lines, medians of repeats, machine load."""

import json
import os
import statistics
import sys
import time


def emit(record):
    print(json.dumps(record), flush=True)


def load_average():
    try:
        return os.getloadavg()[0]
    except OSError:
        return None


def median_time(fn, repeats=5):
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), times


def header(name):
    emit({"benchmark": name, "python": sys.version.split()[0], "cpus": os.cpu_count(),
          "load_average_1min": load_average()})
