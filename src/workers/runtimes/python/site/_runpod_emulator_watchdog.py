"""Takes a worker's whole process group down when the emulator is gone, even after a SIGKILL of the
emulator: the official SDK forks a heartbeat child, handlers start processes of their own, and a worker
left behind would retry job-take in a tight loop forever.

The emulator starts each worker in its own process group with one end of a socket on the fd named by
RUNPOD_EMULATOR_PARENT_FD; only the emulator holds the other end. A thread waits for that end to close.
The worker may meet the emulator's death elsewhere first: a print to its closed stdout raises
BrokenPipeError, and the worker can die of it before the thread runs. So an exit for any reason also
checks whether the emulator is gone, and if so takes the group with it.
"""
import atexit
import os
import select
import signal
import stat
import threading


def start():
    """Starts watching, in the group's leader only (its forked children die with the group anyway), and
    only a socket or pipe: a descendant leading a group of its own may have inherited the variable but
    not the fd."""
    fd = os.environ.get("RUNPOD_EMULATOR_PARENT_FD", "")
    if not fd.isdigit() or os.getpid() != os.getpgid(0):
        return
    fd = int(fd)
    try:
        mode = os.fstat(fd).st_mode
    except OSError:
        return
    if not (stat.S_ISSOCK(mode) or stat.S_ISFIFO(mode)):
        return
    threading.Thread(target=_kill_group_when_closed, args=(fd,), name="emulator-watchdog", daemon=True).start()
    atexit.register(_kill_group_if_gone, fd)


def _kill_group_when_closed(fd):
    try:
        while os.read(fd, 4096):
            pass
    except OSError:
        pass
    _kill_group()


def _kill_group_if_gone(fd):
    if _emulator_gone(fd):
        _kill_group()


def _emulator_gone(fd):
    """Whether the emulator's ends are closed, asked without waiting: the watched socket reads as ended,
    or stdout or stderr, which only the emulator reads, hang up."""
    if not hasattr(select, "poll"):
        return False
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    for output in (1, 2):
        poller.register(output, 0)
    try:
        ready = poller.poll(0)
    except OSError:
        return False
    hung_up = select.POLLHUP | select.POLLERR
    # The emulator never writes to the watched socket: readable means ended.
    return any(events & (hung_up | select.POLLIN if which == fd else hung_up) for which, events in ready)


def _kill_group():
    try:
        os.killpg(os.getpgid(0), signal.SIGKILL)
    except OSError:
        os._exit(1)
