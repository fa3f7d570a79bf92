"""Scenario 10: an async generator with return_aggregate_stream."""
import asyncio

import runpod


async def handler(job):
    for i in range(3):
        await asyncio.sleep(0.1)
        yield {"chunk": i}


runpod.serverless.start({"handler": handler, "return_aggregate_stream": True})
