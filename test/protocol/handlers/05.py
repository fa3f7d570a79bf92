import runpod


def handler(job):
    raise ValueError("boom")


runpod.serverless.start({"handler": handler})
