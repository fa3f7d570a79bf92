"""Scenario 06: a sync handler returning {"error": ...} beside other keys."""
import runpod


def handler(job):
    return {"error": "bad", "x": 1}


runpod.serverless.start({"handler": handler})
