"""Scenario 07: a sync handler returning "refresh_worker": True."""
import runpod


def handler(job):
    return {"refresh_worker": True, "y": 2}


runpod.serverless.start({"handler": handler})
