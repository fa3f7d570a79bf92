"""A small stand-in for the official `runpod` SDK, bundled with the RunPod Serverless emulator.

The emulator puts it on PYTHONPATH only when the worker's interpreter cannot import the real SDK, so a
handler written for RunPod runs unchanged without installing anything. It covers the worker side:
`runpod.serverless.start`, `runpod.serverless.progress_update` and `runpod.RunPodLogger`.
"""
from . import serverless
from .logger import RunPodLogger
from .version import __version__

__all__ = ["serverless", "RunPodLogger", "__version__"]
