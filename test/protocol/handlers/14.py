import runpod


def handler(job):
    return sorted(job.keys())


runpod.serverless.start({"handler": handler})
