"""Scenario 13: an async handler that job-stop cancels."""
import asyncio

import runpod


async def handler(job):
    await asyncio.sleep(job["input"]["sleep"])
    return {"slept": job["input"]["sleep"]}


runpod.serverless.start({"handler": handler})
