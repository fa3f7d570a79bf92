"""Leaves descendants as the official SDK does (a forked heartbeat child) and as handlers do (a
subprocess), prints their pids, then serves jobs: all of them must die with the emulator."""
import json
import multiprocessing
import subprocess
import sys
import time

import runpod


def beat():
    while True:
        time.sleep(1)


if __name__ == "__main__":
    heartbeat = multiprocessing.Process(target=beat, daemon=True)
    heartbeat.start()
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    print(json.dumps({"descendants": [heartbeat.pid, sleeper.pid]}), flush=True)
    runpod.serverless.start({"handler": lambda job: job["input"]})
