"""Scenario 09: a sync generator, 0.1 s between chunks."""
import time

import runpod


def handler(job):
    for i in range(3):
        time.sleep(0.1)
        yield f"part{i}"


runpod.serverless.start({"handler": handler})
