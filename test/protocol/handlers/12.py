"""Scenario 12: an async handler holding three jobs at once."""
import asyncio

import runpod


async def handler(job):
    await asyncio.sleep(job["input"]["sleep"])
    return {"n": job["input"]["n"]}


runpod.serverless.start({"handler": handler, "concurrency_modifier": lambda current: 3})
