import runpod


def handler(job):
    return None


runpod.serverless.start({"handler": handler})
