"""Scenario 04: a sync handler returning {}."""
import runpod


def handler(job):
    return {}


runpod.serverless.start({"handler": handler})
