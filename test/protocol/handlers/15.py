"""Scenario 15: an async handler still running at SIGTERM."""
import asyncio

import runpod


async def handler(job):
    await asyncio.sleep(job["input"]["sleep"])
    return {"slept": job["input"]["sleep"]}


runpod.serverless.start({"handler": handler})
