"""Run at every worker's interpreter start-up: this folder comes first on the worker's PYTHONPATH.

The emulator starts each worker in its own process group with one end of a socket on the fd named by
RUNPOD_EMULATOR_PARENT_FD, and only the emulator holds the other end. When the emulator dies, even by
SIGKILL, reading that fd ends, and this watchdog kills the worker's whole group: the official SDK forks a
heartbeat child, and a worker left behind would retry job-take in a tight loop forever.
"""
import os
import signal
import stat
import sys
import threading


def _kill_group_when_closed(fd):
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
    fd = os.environ.get("RUNPOD_EMULATOR_PARENT_FD", "")
    # Only the group's leader watches (forked children die with the group anyway), and only a socket or
    # pipe: a descendant leading a group of its own may have inherited the variable but not the fd.
    if not fd.isdigit() or os.getpid() != os.getpgid(0):
        return
    try:
        mode = os.fstat(int(fd)).st_mode
    except OSError:
        return
    if not (stat.S_ISSOCK(mode) or stat.S_ISFIFO(mode)):
        return
    threading.Thread(target=_kill_group_when_closed, args=(int(fd),), name="emulator-watchdog", daemon=True).start()


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


_start_watchdog()
_chain_next_sitecustomize()
