"""Scenario 03: a sync handler returning None."""
import runpod


def handler(job):
    return None


runpod.serverless.start({"handler": handler})
