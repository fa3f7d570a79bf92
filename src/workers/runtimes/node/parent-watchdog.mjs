// Takes a Node worker's whole process group down when the emulator is gone, even after a SIGKILL of the
// emulator: a handler's own child processes would otherwise outlive it.
import { builtin } from "./builtins.mjs";

/**
 * Watches the emulator through fd RUNPOD_EMULATOR_PARENT_FD, whose other end only the emulator holds.
 * The emulator's death shows first wherever the worker happens to look: the end of that pipe, a failed
 * write to stdout or stderr (only the emulator reads them), or an exit for any reason while that pipe is
 * closed. Each of them kills the group before this process can die alone — an unhandled EPIPE would end
 * it before the pipe's end is read, leaving its children behind.
 */
export function watchParent(env = process.env) {
  const fd = Number(env.RUNPOD_EMULATOR_PARENT_FD);
  if (!env.RUNPOD_EMULATOR_PARENT_FD || !Number.isInteger(fd)) return;
  let pipe;
  try {
    pipe = new (builtin("node:net").Socket)({ fd, readable: true, writable: false });
  } catch (error) {
    console.error(`cannot watch the emulator through fd ${fd}: ${error.message}`);
    return;
  }
  pipe.on("end", killGroup).on("close", killGroup).on("error", killGroup);
  pipe.resume();
  pipe.unref();

  for (const stream of [process.stdout, process.stderr]) {
    stream.on("error", (error) => {
      // Anything else is the handler's business, as it would be without this listener.
      if (error.code !== "EPIPE" && error.code !== "ECONNRESET") throw error;
      killGroup();
    });
  }
  process.on("exit", () => {
    if (pipe.destroyed || isAtEnd(fd)) killGroup();
  });
}

/** Whether the emulator's end of `fd` is closed, asked without waiting (the socket does not block). */
function isAtEnd(fd) {
  try {
    return builtin("node:fs").readSync(fd, Buffer.alloc(1)) === 0;
  } catch {
    // EAGAIN: open, with nothing to read, as the emulator never writes to it.
    return false;
  }
}

function killGroup() {
  try {
    process.kill(-process.pid, "SIGKILL");
  } catch {
    // Not a group leader: at least this process goes.
    process.exit(1);
  }
}
