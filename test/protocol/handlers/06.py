import runpod


def handler(job):
    return {"error": "bad", "x": 1}


runpod.serverless.start({"handler": handler})
