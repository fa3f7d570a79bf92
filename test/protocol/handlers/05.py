"""Scenario 05: a sync handler raising ValueError("boom")."""
import runpod


def handler(job):
    raise ValueError("boom")


runpod.serverless.start({"handler": handler})
