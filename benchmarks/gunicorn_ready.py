"""Gunicorn settings for the benchmarks (`gunicorn -c benchmarks/gunicorn_ready.py ...`).

Each worker, once it has loaded the app, adds its pid to the file named by the
BENCH_READY_FILE environment variable, so a benchmark can wait until every worker serves:
the port accepts connections while the workers are still importing the app, and requests
timed then would measure their start-up.
"""

import os


def post_worker_init(worker) -> None:
    with open(os.environ["BENCH_READY_FILE"], "a") as ready:
        ready.write(f"{worker.pid}\n")
