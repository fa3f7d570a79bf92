"""RunPodLogger: with RUNPOD_ENDPOINT_ID set (always, under the emulator) each line is a JSON object
naming its job, which the emulator uses to keep the line with that job."""
import json
import os

_LEVELS = ("DEBUG", "INFO", "WARN", "ERROR")


class RunPodLogger:
    def __init__(self):
        level = os.environ.get("RUNPOD_DEBUG_LEVEL", "DEBUG").upper()
        self.threshold = _LEVELS.index(level) if level in _LEVELS else 0

    def log(self, message, level="INFO", request_id=None):
        level = level.upper()
        if level in _LEVELS and _LEVELS.index(level) < self.threshold:
            return
        if os.environ.get("RUNPOD_ENDPOINT_ID"):
            line = json.dumps({"requestId": request_id, "message": str(message), "level": level}, ensure_ascii=False)
        else:
            line = f"{level.ljust(7)}| {request_id + ' | ' if request_id else ''}{message}"
        print(line, flush=True)

    def debug(self, message, request_id=None):
        self.log(message, "DEBUG", request_id)

    def info(self, message, request_id=None):
        self.log(message, "INFO", request_id)

    def warn(self, message, request_id=None):
        self.log(message, "WARN", request_id)

    def error(self, message, request_id=None):
        self.log(message, "ERROR", request_id)
