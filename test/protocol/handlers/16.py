"""Scenario 16: a sync handler echoing its input, given a job by a take open at SIGTERM."""
import runpod


def handler(job):
    return {"echo": job["input"]}


runpod.serverless.start({"handler": handler})
