"""A small stand-in for the official `runpod` SDK, bundled with the RunPod Serverless emulator.

The emulator puts it on PYTHONPATH only when the worker's interpreter cannot import the real SDK, so a
handler written for RunPod runs unchanged without installing anything. It covers the worker side:
`runpod.serverless.start`, `runpod.serverless.progress_update`, `runpod.RunPodLogger`, and the
utilities handlers import from `runpod.serverless.utils` (rp_validator, rp_cleanup, rp_download,
rp_upload) as far as they work offline. Anything else is named as missing, with the way to the real SDK.
"""
from . import serverless
from ._missing import install as _install_missing_modules, missing
from .serverless.modules.rp_logger import RunPodLogger
from .version import __version__

__all__ = ["serverless", "RunPodLogger", "__version__"]

_install_missing_modules()


def __getattr__(name):
    """`runpod.Endpoint` and the rest of the official SDK's client side are not bundled: say so."""
    if name.startswith("__"):
        raise AttributeError(name)
    raise AttributeError(missing("runpod." + name))
