"""Gives the official SDK's own bookkeeping the worker's private folder, as a container's disk is
private to its worker.

runpod 1.7.12 to 1.10.0 keep the jobs a worker holds in `.runpod_jobs.pkl` (with a `.lock` and
temporary files beside it) in the folder the worker started in, load it when the worker starts and
again before each job-take, and count its jobs as their own. On the platform that folder is one
container's; here every worker of an endpoint starts in the user's folder, so they would share one file:
a worker killed with a job in flight leaves it there, and every later worker believes it holds that job
and never takes another. When that SDK module is imported, its state file is pointed at the folder named
by RUNPOD_EMULATOR_STATE_DIR instead; the handler's working folder and files are left as they are.
"""
import os
import sys

STATE_MODULE = "runpod.serverless.modules.worker_state"


def install():
    """Watches for the SDK's state module, when the emulator gave this worker a folder for it."""
    folder = os.environ.get("RUNPOD_EMULATOR_STATE_DIR")
    if folder:
        sys.meta_path.insert(0, _StateModuleFinder(folder))


def point_state_at(module, folder):
    """Moves the module's state file (and its lock and temporary files) into `folder`; versions that
    keep no state file are left alone."""
    progress = getattr(module, "JobsProgress", None)
    state_file = getattr(progress, "_STATE_FILE", None)
    if not isinstance(state_file, str):
        return
    progress._STATE_DIR = folder
    progress._STATE_FILE = os.path.join(folder, os.path.basename(state_file))


class _StateModuleFinder:
    """Finds the state module as the other finders would, to run point_state_at after its code. A plain
    class: importing importlib.abc would cost every worker start-up time."""

    def __init__(self, folder):
        self.folder = folder

    def find_spec(self, name, path=None, target=None):
        if name != STATE_MODULE:
            return None
        for finder in sys.meta_path:
            find = getattr(finder, "find_spec", None)
            if finder is self or find is None:
                continue
            spec = find(name, path, target)
            if spec is not None:
                if spec.loader is not None and hasattr(spec.loader, "exec_module"):
                    spec.loader = _ThenPointState(spec.loader, self.folder)
                return spec
        return None


class _ThenPointState:
    """The module's own loader, followed by point_state_at; everything else is the loader's."""

    def __init__(self, loader, folder):
        self._loader = loader
        self._folder = folder

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module):
        self._loader.exec_module(module)
        point_state_at(module, self._folder)

    def __getattr__(self, name):
        return getattr(self._loader, name)
