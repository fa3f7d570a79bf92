"""Scenario 17: a sync handler stopped while it blocks."""
import time

import runpod


def handler(job):
    time.sleep(job["input"]["sleep"])
    return {"slept": job["input"]["sleep"]}


runpod.serverless.start({"handler": handler})
