import runpod


def handler(job):
    return {}


runpod.serverless.start({"handler": handler})
