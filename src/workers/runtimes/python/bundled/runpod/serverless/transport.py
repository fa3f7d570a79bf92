"""HTTP to the platform (here, the emulator), with the headers the official SDK sends.

Every thread keeps its own keep-alive connection: the take loop, the job-stop poll and the ping each
hold long-polls or repeat often, and one thread's held request must never wait for another's.
"""
import http.client
import json
import os
import sys
import threading
from urllib.parse import urlsplit

from ..version import __version__

# Long-polls are held up to ~30 s by the platform; past this, the platform is gone.
READ_TIMEOUT = 90

_uname = os.uname()
USER_AGENT = "RunPod-Python-SDK/{} ({} {}; {}) Language/Python {}".format(
    __version__, _uname.sysname, _uname.release, _uname.machine, ".".join(map(str, sys.version_info[:3]))
)

_local = threading.local()


def with_query(url, query):
    """Appends `query` (already encoded) to a URL that may or may not have one."""
    return url + ("&" if "?" in url else "?") + query


def get(url, json_content_type=True):
    """GETs `url`; returns (status, body bytes). The SDK labels even its body-less GETs as JSON, except
    the ping."""
    headers = {"Content-Type": "application/json"} if json_content_type else {}
    return _send("GET", url, None, headers)


def encode(payload):
    """`payload` as the SDK's JSON text, in UTF-8. Raises TypeError or ValueError for what JSON cannot
    hold, NaN included: the platform's parser would reject it."""
    return json.dumps(payload, ensure_ascii=False, allow_nan=False).encode("utf-8")


def post(url, body, job_id):
    """POSTs encoded JSON labelled as a form, as the SDK does; returns (status, body bytes)."""
    headers = {"Content-Type": "application/x-www-form-urlencoded", "charset": "utf-8", "X-Request-ID": job_id}
    return _send("POST", url, body, headers)


def _send(method, url, body, headers):
    parts = urlsplit(url)
    target = parts.path + ("?" + parts.query if parts.query else "")
    headers = dict(headers, Authorization=os.environ.get("RUNPOD_AI_API_KEY", ""))
    headers["User-Agent"] = USER_AGENT
    connection = _connection(parts.hostname, parts.port or 80)
    # A kept-alive connection may have been closed by the server while idle: then once more, afresh.
    reused = connection.sock is not None
    while True:
        try:
            connection.request(method, target, body, headers)
            response = connection.getresponse()
            return response.status, response.read()
        except (ConnectionError, http.client.HTTPException):
            connection.close()
            if not reused:
                raise OSError("{} {}: the connection to the platform failed".format(method, parts.path))
            reused = False
        except BaseException:
            # A request cut short (a timeout) leaves the connection mid-answer: never reuse it.
            connection.close()
            raise


class _Connection(http.client.HTTPConnection):
    """Sends a request's head and its body (small, in memory) in one write: http.client writes them
    separately, and each write is a segment that wakes the platform on its own."""

    def _send_output(self, message_body=None, encode_chunked=False):
        if isinstance(message_body, bytes) and not encode_chunked:
            self._buffer.extend((b"", b""))
            head = b"\r\n".join(self._buffer)
            del self._buffer[:]
            self.send(head + message_body)
        else:
            super()._send_output(message_body, encode_chunked)


def _connection(host, port):
    connections = getattr(_local, "connections", None)
    if connections is None:
        connections = _local.connections = {}
    key = (host, port)
    if key not in connections:
        connections[key] = _Connection(host, port, timeout=READ_TIMEOUT)
    return connections[key]
