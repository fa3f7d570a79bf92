"""runpod.serverless.modules.rp_logger: RunPodLogger, printing what the official SDK prints.

With RUNPOD_ENDPOINT_ID set (always, under the emulator) each line is a JSON object naming its job,
which is how the emulator files the line under that job.
"""
import json
import os

LEVELS = ("NOTSET", "TRACE", "DEBUG", "INFO", "WARN", "ERROR")
MAX_MESSAGE_LENGTH = 4096


def _level_name(level):
    if isinstance(level, int) and 0 <= level < len(LEVELS):
        return LEVELS[level]
    if isinstance(level, str) and level.upper() in LEVELS:
        return level.upper()
    raise ValueError("Invalid debug level: {}".format(level))


def _level_from_environment():
    try:
        return _level_name(os.environ.get("RUNPOD_LOG_LEVEL", os.environ.get("RUNPOD_DEBUG_LEVEL", "DEBUG")))
    except ValueError:
        return "DEBUG"


class RunPodLogger:
    """One shared logger, as in the SDK: a level set anywhere applies everywhere."""

    _instance = None
    level = _level_from_environment()

    def __new__(cls):
        if RunPodLogger._instance is None:
            RunPodLogger._instance = object.__new__(cls)
        return RunPodLogger._instance

    def set_level(self, new_level):
        """Sets the lowest level printed, by name or number."""
        self.level = _level_name(new_level)
        self.info("Log level set to {}".format(self.level))

    def log(self, message, message_level="INFO", job_id=None):
        """Prints one line at `message_level`, tagged with `job_id` when given."""
        if self.level == "NOTSET":
            return
        if message_level in LEVELS and LEVELS.index(message_level) < LEVELS.index(self.level):
            return
        message = str(message)
        if len(message) > MAX_MESSAGE_LENGTH:
            # Keep both ends: the start says what it is, the end often says what went wrong.
            half = MAX_MESSAGE_LENGTH // 2
            note = "\n...TRUNCATED {} CHARACTERS...\n".format(len(message) - MAX_MESSAGE_LENGTH)
            message = message[:half] + note + message[-half:]
        if os.environ.get("RUNPOD_ENDPOINT_ID"):
            print(json.dumps({"requestId": job_id, "message": message, "level": message_level}), flush=True)
            return
        if job_id:
            message = "{} | {}".format(job_id, message)
        print("{}| {}".format(message_level.ljust(7), message), flush=True)

    def secret(self, secret_name, secret):
        """Logs a secret with all but its first and last characters starred out."""
        secret = str(secret)
        self.info("{}: {}".format(secret_name, secret[:1] + "*" * max(0, len(secret) - 2) + secret[-1:]))

    def debug(self, message, request_id=None):
        self.log(message, "DEBUG", request_id)

    def info(self, message, request_id=None):
        self.log(message, "INFO", request_id)

    def warn(self, message, request_id=None):
        self.log(message, "WARN", request_id)

    def error(self, message, request_id=None):
        self.log(message, "ERROR", request_id)

    def trace(self, message, request_id=None):
        self.log(message, "TRACE", request_id)

    def tip(self, message):
        self.log(message, "TIP")
