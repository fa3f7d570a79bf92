"""Blocking HTTP/1.1 to the platform with the SDK's headers, one keep-alive connection per thread.

Written on `socket` rather than `http.client`, whose imports cost about 10 ms of every worker's cold
start: the emulator's answers are small and always carry a Content-Length (or no body at all).
"""
import os
import socket
import threading

LONG_POLL_TIMEOUT = 90

_local = threading.local()
_user_agent = None


def _agent():
    """The SDK's User-Agent shape, worked out once."""
    global _user_agent
    if _user_agent is None:
        import platform

        from .worker import VERSION

        _user_agent = (
            f"RunPod-Python-SDK/{VERSION} ({platform.system()} {platform.release()}; {platform.machine()}) "
            f"Language/Python {platform.python_version()}"
        )
    return _user_agent


def _split(url):
    """`http://HOST:PORT/path?query` → (host, port, target, netloc)."""
    netloc, _, target = url.split("://", 1)[1].partition("/")
    host, colon, port = netloc.rpartition(":")
    if not colon or "]" in port:
        host, port = netloc, "80"
    return host.strip("[]"), int(port), "/" + target, netloc


class _Connection:
    def __init__(self, host, port):
        self.sock = socket.create_connection((host, port), timeout=LONG_POLL_TIMEOUT)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.reader = self.sock.makefile("rb")

    def close(self):
        self.reader.close()
        self.sock.close()

    def exchange(self, request):
        self.sock.sendall(request)
        status_line = self.reader.readline()
        if not status_line:
            raise ConnectionError("the connection was closed")
        status = int(status_line.split()[1])
        headers = {}
        while True:
            line = self.reader.readline()
            if line in (b"\r\n", b"\n", b""):
                break
            name, _, value = line.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        if headers.get("transfer-encoding", "").lower() == "chunked":
            body = self._read_chunked()
        else:
            body = self.reader.read(int(headers.get("content-length", "0")))
        if headers.get("connection", "").lower() == "close":
            raise _Closing(status, body)
        return status, body

    def _read_chunked(self):
        parts = []
        while True:
            size = int(self.reader.readline().split(b";")[0], 16)
            if size == 0:
                self.reader.readline()
                return b"".join(parts)
            parts.append(self.reader.read(size))
            self.reader.readline()


class _Closing(Exception):
    """A complete answer after which the server closes the connection."""

    def __init__(self, status, body):
        super().__init__(status)
        self.answer = (status, body)


def _request(method, url, body=None, content_type="application/json"):
    host, port, target, netloc = _split(url)
    lines = [f"{method} {target} HTTP/1.1", f"Host: {netloc}", f"Authorization: {os.environ.get('RUNPOD_AI_API_KEY', '')}", f"User-Agent: {_agent()}"]
    data = b""
    if body is not None:
        # The SDK posts JSON text labelled as a form; the platform reads the raw body.
        data = body.encode("utf-8")
        lines += ["Content-Type: application/x-www-form-urlencoded", "charset: utf-8", f"Content-Length: {len(data)}"]
    elif content_type:
        lines.append(f"Content-Type: {content_type}")
    request = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + data
    cache = getattr(_local, "connections", None)
    if cache is None:
        cache = _local.connections = {}
    for attempt in (1, 2):
        connection = cache.get(netloc)
        try:
            if connection is None:
                connection = cache[netloc] = _Connection(host, port)
            status, answer = connection.exchange(request)
            return status, answer.decode("utf-8")
        except _Closing as closing:
            cache.pop(netloc, None).close()
            status, answer = closing.answer
            return status, answer.decode("utf-8")
        except (OSError, ValueError, IndexError):
            if connection is not None:
                connection.close()
            cache.pop(netloc, None)
            # A kept-alive connection the server had closed: try once on a fresh one.
            if attempt == 2:
                raise OSError(f"{method} {target}: no answer from {netloc}")
    raise OSError("unreachable")


def get(url, content_type="application/json"):
    """GET; returns (status, body text)."""
    return _request("GET", url, content_type=content_type)


def post(url, text):
    """POST JSON text as the SDK does; returns (status, body text)."""
    return _request("POST", url, body=text)
