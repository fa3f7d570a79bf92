"""Scenario 08: refresh_worker set in the start() config."""
import runpod


def handler(job):
    return {"ok": True}


runpod.serverless.start({"handler": handler, "refresh_worker": True})
