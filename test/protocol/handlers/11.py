"""Scenario 11: two progress updates, then a result."""
import time

import runpod


def handler(job):
    runpod.serverless.progress_update(job, "step 1/2")
    time.sleep(0.5)
    runpod.serverless.progress_update(job, {"percent": 50})
    time.sleep(0.5)
    return {"done": True}


runpod.serverless.start({"handler": handler})
