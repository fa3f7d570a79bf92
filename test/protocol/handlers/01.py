import runpod


def handler(job):
    return {"echo": job["input"]}


runpod.serverless.start({"handler": handler})
