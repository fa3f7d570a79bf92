"""Scenario 02: a sync handler returning a string."""
import runpod


def handler(job):
    return "hello " + job["input"]["name"]


runpod.serverless.start({"handler": handler})
