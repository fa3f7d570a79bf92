"""Loaded at every worker's interpreter start-up (this folder is first on PYTHONPATH).

The emulator gives each worker the read end of a pipe on fd RUNPOD_EMULATOR_PARENT_FD and keeps the
other end itself. If the emulator dies, even by SIGKILL, the read sees end-of-file and this watchdog
kills the worker's whole process group: the official SDK forks a heartbeat child, and a worker left
behind would retry job-take in a tight loop forever.
"""
import os
import signal
import sys
import threading


def _watch_parent(fd):
    try:
        while os.read(fd, 4096):
            pass
    except OSError:
        pass
    try:
        os.killpg(os.getpgid(0), signal.SIGKILL)
    except OSError:
        os._exit(1)


def _start_watchdog():
    fd = os.environ.get("RUNPOD_EMULATOR_PARENT_FD")
    # Only the group's leader watches; forked children die with the group.
    if not fd or not fd.isdigit() or os.getpid() != os.getpgid(0):
        return
    threading.Thread(target=_watch_parent, args=(int(fd),), name="emulator-watchdog", daemon=True).start()


def _chain_next_sitecustomize():
    """This module shadows any other sitecustomize (Debian ships one): run that one too."""
    import importlib.machinery
    import importlib.util

    here = os.path.dirname(os.path.abspath(__file__))
    rest = [p for p in sys.path if os.path.abspath(p or ".") != here]
    spec = importlib.machinery.PathFinder.find_spec("sitecustomize", rest)
    if spec is None or spec.loader is None:
        return
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except Exception as error:  # a broken site file must not break the worker
        print(f"warning: {spec.origin}: {error}", file=sys.stderr)


_start_watchdog()
_chain_next_sitecustomize()
