"""A small stand-in for the official `runpod` SDK, bundled with the emulator.

It is put on PYTHONPATH only when the worker's interpreter cannot import the real SDK, so a handler
written for RunPod runs offline unchanged. It implements the worker side of the protocol the platform
speaks to the SDK: `runpod.serverless.start`, `runpod.serverless.progress_update` and `RunPodLogger`.
"""
from . import serverless
from .logger import RunPodLogger

__version__ = "1.12.0+emulator"

__all__ = ["serverless", "RunPodLogger", "__version__"]
