"""Scenario 01: a sync handler returning {"echo": input}."""
import runpod


def handler(job):
    return {"echo": job["input"]}


runpod.serverless.start({"handler": handler})
