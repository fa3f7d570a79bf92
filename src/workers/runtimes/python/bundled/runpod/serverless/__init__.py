"""runpod.serverless: start a worker, and report progress from a handler."""
import json
import os
import sys

from . import http
from .worker import Worker, _with_query

__all__ = ["start", "progress_update"]


def start(config):
    """Runs the worker loop until the platform (the emulator) stops the worker."""
    if not callable(config.get("handler")):
        raise ValueError('runpod.serverless.start needs a config with a callable "handler"')
    if not os.environ.get("RUNPOD_WEBHOOK_GET_JOB"):
        print(
            "This is the runpod module bundled with the RunPod Serverless emulator: it runs handlers only as "
            "emulator workers. Start the emulator instead: npx emulator " + sys.argv[0],
            file=sys.stderr,
        )
        sys.exit(2)
    Worker(config).run()


def progress_update(job, progress):
    """Sends a progress update: the job stays IN_PROGRESS and shows `progress` as its output."""
    pod = os.environ.get("RUNPOD_POD_ID", "local")
    template = os.environ.get("RUNPOD_WEBHOOK_POST_OUTPUT", "")
    url = _with_query(template.replace("$RUNPOD_POD_ID", pod).replace("$ID", job["id"]), isStream="false")
    http.post(url, json.dumps({"status": "IN_PROGRESS", "output": progress}))
