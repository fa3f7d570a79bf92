"""Run at every worker's interpreter start-up: this folder comes first on the worker's PYTHONPATH.

It starts the watchdog that takes the worker's process group down with the emulator, gives the SDK's
own bookkeeping the worker's private folder, then runs the sitecustomize this one hides. It works the
same under the bundled runpod module and the user's own SDK.
"""
import os
import sys

import _runpod_emulator_private_state
import _runpod_emulator_watchdog


def _chain_next_sitecustomize():
    """This module hides any other sitecustomize further along sys.path (Debian ships one): run it."""
    try:
        import importlib.machinery
        import importlib.util

        here = os.path.dirname(os.path.abspath(__file__))
        rest = [entry for entry in sys.path if os.path.abspath(entry or ".") != here]
        spec = importlib.machinery.PathFinder.find_spec("sitecustomize", rest)
        if spec is not None and spec.loader is not None:
            spec.loader.exec_module(importlib.util.module_from_spec(spec))
    except Exception as error:  # a broken site file must not stop the worker
        print("warning: the next sitecustomize failed: {!r}".format(error), file=sys.stderr)


_runpod_emulator_watchdog.start()
_runpod_emulator_private_state.install()
_chain_next_sitecustomize()
