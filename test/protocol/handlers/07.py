import runpod


def handler(job):
    return {"refresh_worker": True, "y": 2}


runpod.serverless.start({"handler": handler})
