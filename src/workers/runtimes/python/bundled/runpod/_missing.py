"""What the bundled module says about the parts of the official SDK it does not have.

A handler importing one of them would otherwise fail with a bare ModuleNotFoundError or "cannot import
name" and be retried for ever; the message names what is missing and the way to the real SDK.
"""
import re
import sys


def missing(name):
    """The sentence for a part of the official SDK that the bundled module lacks."""
    return (
        "{} is not in the runpod module bundled with the RunPod Serverless emulator; `pip install runpod` "
        "in the handler's environment ({}) gives the real SDK, which the emulator then uses".format(name, sys.executable)
    )


class _MissingRunpodModules:
    """Last on sys.meta_path, so asked only for modules no other finder has: it speaks for runpod.*. A
    plain class: importing importlib.abc (for MetaPathFinder) would cost every worker ≈ 10 ms at start."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname.startswith("runpod."):
            raise ModuleNotFoundError(missing(fullname), name=fullname)
        return None


def _said_missing(error):
    """The runpod name a `from runpod… import NAME` failed on; Python words that error itself."""
    if not isinstance(error, ImportError) or not (error.name or "").startswith("runpod"):
        return None
    found = re.match(r"cannot import name '([^']+)' from '(runpod[\w.]*)'", str(error))
    return found and "{}.{}".format(found.group(2), found.group(1))


def install():
    """Puts the finder last on sys.meta_path, and adds one line to an uncaught import error of a runpod name."""
    if any(isinstance(finder, _MissingRunpodModules) for finder in sys.meta_path):
        return
    sys.meta_path.append(_MissingRunpodModules())
    previous = sys.excepthook

    def excepthook(kind, error, traceback):
        previous(kind, error, traceback)
        name = _said_missing(error)
        if name:
            print(missing(name), file=sys.stderr)

    sys.excepthook = excepthook
