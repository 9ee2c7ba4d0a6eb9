"""What a webhook that never answers costs a run: N failing mapped children, each
notifying a server on 127.0.0.1 that accepts connections and never answers.

    .venv/bin/python benches/silent_notifier.py [-n 20] [--timeout 1] [--executors local,processes]

Prints, per executor, the run's wall time, the connections the server received and the
notifications that went out; without a bound, each failing child would cost one full
``timeout`` (and one connection). See docs/notifications.md, "A server that does not
answer".
"""

from __future__ import annotations

import argparse
import time

from ferroflow import Flow, task
from ferroflow.notifications import as_state_handler
from ferroflow.testing.fixtures import SilentServer
from ferroflow_webhook import WebhookNotifier


def measure(n: int, timeout: float, executor: str) -> tuple[float, int]:
    server = SilentServer()
    try:
        notifier = WebhookNotifier(server.url, timeout=timeout, only_states=["Failed"])

        @task(state_handlers=[as_state_handler(notifier)])
        def work(x):
            raise ValueError(x)

        with Flow("silent-notifier") as flow:
            work.map(list(range(n)))
        started = time.perf_counter()
        state = flow.run(executor=executor, record=False)
        elapsed = time.perf_counter() - started
        assert state.is_failed()
        return elapsed, server.connections
    finally:
        server.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", type=int, default=20, help="failing children (default 20)")
    parser.add_argument("--timeout", type=float, default=1.0, help="the notifier's timeout (default 1 s)")
    parser.add_argument("--executors", default="local,processes")
    args = parser.parse_args()
    print(f"{'executor':<12}{'children':>10}{'timeout s':>11}{'wall s':>9}{'connections':>13}"
          f"{'unbounded s':>13}")
    for executor in args.executors.split(","):
        elapsed, connections = measure(args.n, args.timeout, executor)
        print(f"{executor:<12}{args.n:>10}{args.timeout:>11g}{elapsed:>9.2f}{connections:>13}"
              f"{args.n * args.timeout:>13g}")


if __name__ == "__main__":
    main()
