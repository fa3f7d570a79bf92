"""Scenario 14: the job object reaches the handler unchanged."""
import runpod


def handler(job):
    return sorted(job.keys())


runpod.serverless.start({"handler": handler})
