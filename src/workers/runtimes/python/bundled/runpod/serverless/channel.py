"""The emulator's worker channel (RUNPOD_EMULATOR_CHANNEL): job-take carrying results, job-done and
job-stream as frames on a connection of their own, where HTTP would parse, route and frame each request
on both sides. Not the platform's: the official SDK speaks HTTP only, and so does this module where the
environment offers no channel. job-stop and pings stay HTTP requests; they are on no job's path.

A frame is the length of a JSON header and of a payload (4 bytes each, big-endian), then both. One
request at a time per connection, each answered by one frame whose header is the answer; every thread
keeps its own connection, as with HTTP (see transport.py).
"""
import json
import struct
import threading

from . import transport

PROTOCOL = "runpod-emulator-worker-channel"

_local = threading.local()


class Refused(OSError):
    """The emulator refused a request, with its status and why."""

    def __init__(self, status, message):
        super().__init__("answered {}: {}".format(status, message))
        self.status = status


class Channel:
    """The channel at `url` (its handshake's URL, token included)."""

    def __init__(self, url):
        self.host, self.port, host_header, target = transport.split(url)
        self.handshake = "GET {} HTTP/1.1\r\nHost: {}\r\nConnection: Upgrade\r\nUpgrade: {}\r\n\r\n".format(target, host_header, PROTOCOL).encode("latin-1")

    def take(self, carried, free, busy):
        """The results (job id, job-done text) pairs, then at most `free` jobs, held as a job-take is;
        returns the jobs. With `free` 0, the results only."""
        header = {"op": "take", "free": free, "busy": busy, "ids": [job_id for job_id, _ in carried], "sizes": [len(data) for _, data in carried]}
        jobs = self._request(header, b"".join(data for _, data in carried)).get("jobs")
        return [job for job in jobs if isinstance(job, dict) and "id" in job and "input" in job] if isinstance(jobs, list) else []

    def post(self, op, job_id, data):
        """A job-done ("done") or job-stream ("stream") body for one job."""
        self._request({"op": op, "id": job_id}, data)

    def _request(self, header, payload):
        connection = getattr(_local, "channel", None)
        if connection is None:
            connection = _local.channel = transport._Connection(self.host, self.port)
        head = json.dumps(header).encode("utf-8")
        frame = struct.pack(">II", len(head), len(payload)) + head + payload
        answer = transport.exchanged(connection, lambda: self._exchange(connection, frame), "the worker channel's {}".format(header["op"]))
        # Raised here, not within the exchange: a refused request leaves the connection fit for the next.
        if "error" in answer:
            raise Refused(answer.get("status"), answer["error"])
        return answer

    def _exchange(self, connection, frame):
        """Sends `frame` (after the handshake, on a new connection) and reads the answer's header."""
        connection.answered = False
        if connection.connect():
            # The first request follows the handshake at once, without waiting for its answer.
            connection.sock.sendall(self.handshake + frame)
            status, length, _, _ = connection._head()
            if status != 101:
                body = connection._take(length) if length else b""
                connection.close()
                try:
                    why = json.loads(body)["error"]
                except (ValueError, KeyError, TypeError):
                    why = body[:200].decode("utf-8", "replace")
                raise Refused(status, why)
        else:
            connection.sock.sendall(frame)
        head_bytes, payload_bytes = struct.unpack(">II", connection._take(8))
        try:
            answer = json.loads(connection._take(head_bytes))
        except ValueError:
            raise transport._BadAnswer("the emulator's answer is not JSON")
        connection._take(payload_bytes)
        if connection.buffer:
            raise transport._BadAnswer("the emulator sent more than one answer")
        return answer if isinstance(answer, dict) else {}
