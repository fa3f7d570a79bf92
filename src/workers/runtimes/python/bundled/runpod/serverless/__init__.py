"""runpod.serverless: run a handler as a worker of the platform, and report a job's progress."""
import os
import sys

from .worker import Worker, progress_update

__all__ = ["start", "progress_update"]


def start(config):
    """Runs this process as a worker until the platform stops it (SIGTERM) or, with "refresh_worker",
    until its first result. `config`: "handler" (sync, async, generator or async generator),
    "concurrency_modifier", "return_aggregate_stream", "refresh_worker"."""
    if not callable(config.get("handler")):
        raise ValueError('runpod.serverless.start needs a config with a callable "handler"')
    if not os.environ.get("RUNPOD_WEBHOOK_GET_JOB"):
        print(
            "This runpod module is the one bundled with the RunPod Serverless emulator and runs handlers only "
            "as emulator workers: start the emulator with this handler instead (npx emulator {}).".format(sys.argv[0]),
            file=sys.stderr,
        )
        sys.exit(2)
    Worker(config).run()
