"""HTTP to the platform (here, the emulator), with the headers the official SDK sends.

Every thread keeps its own keep-alive connection: the take loop, the job-stop poll and the ping each
hold long-polls or repeat often, and one thread's held request must never wait for another's.

Why a small HTTP/1.1 client on `socket` rather than http.client: importing http.client costs a worker
≈ 16 ms at start (it brings the email package, for header parsing, and ssl), against a target of 30 ms
for the emulator's whole cold-start overhead; and a request through it costs more than twice the CPU
(its answer's headers go through email.feedparser): a job-done POST and its answer against a loopback
server, 125–150 µs of the worker's CPU with http.client, 40–65 µs with this client, on the path of every
job. This one speaks only what the platform needs: one request at a time per connection, its head and
small in-memory body in one write, answers framed by Content-Length, chunked or by the connection's end,
interim 1xx answers skipped. urllib.parse (≈ 2.5 ms at start) gives way to `split` and `query` below for
the same reason.
"""
import json
import os
import select
import socket
import sys
import threading

from ..version import __version__

# Long-polls are held up to a minute by the platform; an answer that stalls longer, the platform is gone.
READ_TIMEOUT = 90
# The longest answer head, or chunk-size line, read before the answer is called malformed.
MAX_HEAD = 65536
# The most read from the socket at once.
READ_SIZE = 1 << 20

_uname = os.uname()
USER_AGENT = "RunPod-Python-SDK/{} ({} {}; {}) Language/Python {}".format(
    __version__, _uname.sysname, _uname.release, _uname.machine, ".".join(map(str, sys.version_info[:3]))
)

# The bytes urllib.parse.quote_plus leaves as they are.
_UNRESERVED = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-~")

_local = threading.local()


def with_query(url, query):
    """Appends `query` (already encoded) to a URL that may or may not have one."""
    return url + ("&" if "?" in url else "?") + query


def query(pairs):
    """(name, value) pairs as a query string, encoded as urllib.parse.urlencode encodes them."""
    return "&".join(_quote_plus(str(name)) + "=" + _quote_plus(str(value)) for name, value in pairs)


def _quote_plus(text):
    data = text.encode("utf-8")
    if all(byte in _UNRESERVED for byte in data):
        return text
    return "".join(chr(byte) if byte in _UNRESERVED else "+" if byte == 32 else "%{:02X}".format(byte) for byte in data)


def split(url):
    """(host, port, Host header, target) of an http:// URL, as urllib.parse.urlsplit and http.client
    read it: the target is the path and query ("/" when empty), the fragment dropped."""
    rest = url.partition("://")[2]
    end = len(rest)
    for char in "/?#":
        found = rest.find(char, 0, end)
        if found >= 0:
            end = found
    netloc, target = rest[:end], rest[end:].partition("#")[0]
    if not target.startswith("/"):
        target = "/" + target
    host = netloc.rpartition("@")[2]
    if host.startswith("["):
        name, _, port = host[1:].partition("]")
        port = port[1:]
    else:
        name, _, port = host.partition(":")
    if not name or not (_is_number(port) or not port) or int(port or 80) > 65535:
        raise ValueError("{}: not a URL the platform can be reached at".format(url.partition("?")[0]))
    name, port = name.lower(), int(port or 80)
    shown = "[{}]".format(name) if ":" in name else name
    return name, port, shown if port == 80 else "{}:{}".format(shown, port), target


def get(url, json_content_type=True):
    """GETs `url`; returns (status, body bytes). The SDK labels even its body-less GETs as JSON, except
    the ping."""
    return _send("GET", url, "Content-Type: application/json\r\n" if json_content_type else "", b"")


def encode(payload):
    """`payload` as the SDK's JSON text, in UTF-8. Raises TypeError or ValueError for what JSON cannot
    hold, NaN included: the platform's parser would reject it."""
    return json.dumps(payload, ensure_ascii=False, allow_nan=False).encode("utf-8")


def post(url, body, job_id):
    """POSTs encoded JSON labelled as a form, as the SDK does; returns (status, body bytes)."""
    if not job_id.isprintable():
        raise OSError("the job id {!r} cannot be sent in a header".format(job_id))
    headers = "Content-Length: {}\r\nContent-Type: application/x-www-form-urlencoded\r\ncharset: utf-8\r\nX-Request-ID: {}\r\n"
    return _send("POST", url, headers.format(len(body), job_id), body)


def _send(method, url, headers, body):
    """One request, with the headers http.client sent for the SDK, in its order: Host and
    Accept-Encoding, (Content-Length and) the request's own, then Authorization and User-Agent."""
    host, port, host_header, target = split(url)
    path = target.partition("?")[0]
    if " " in target or not target.isprintable():
        raise OSError("{} {}: not a URL the platform can be reached at".format(method, path))
    head = "{} {} HTTP/1.1\r\nHost: {}\r\nAccept-Encoding: identity\r\n{}Authorization: {}\r\nUser-Agent: {}\r\n\r\n".format(
        method, target, host_header, headers, os.environ.get("RUNPOD_AI_API_KEY", ""), USER_AGENT
    )
    request = head.encode("latin-1") + body
    connection = _connection(host, port)
    return exchanged(connection, lambda: connection.exchange(request), "{} {}".format(method, path))


def exchanged(connection, exchange, what):
    """Runs `exchange()`, one request and its answer on `connection`; failures are OSErrors that name
    `what`. A kept-alive connection may have been closed by the server while idle: then once more,
    afresh, if nothing of the answer came (the request was not read, or not answered)."""
    connection.drop_if_stale()
    reused = connection.sock is not None
    while True:
        try:
            return exchange()
        except (ConnectionError, _BadAnswer) as error:
            connection.close()
            if not reused or connection.answered:
                detail = " ({})".format(error) if isinstance(error, _BadAnswer) and connection.answered else ""
                raise OSError("{}: the connection to the platform failed{}".format(what, detail)) from error
            reused = False
        except socket.timeout as error:
            # Cut short, the connection is mid-answer: never reused, and the request never sent again.
            connection.close()
            raise OSError("{}: no answer from the platform for {} s".format(what, READ_TIMEOUT)) from error
        except BaseException:
            # Likewise for a request cut short otherwise (an interrupt), or refused.
            connection.close()
            raise


def _is_number(text):
    """Whether `text` is ASCII digits only: str.isdigit() also takes "²" and other digits int() refuses."""
    return text.isascii() and text.isdigit()


class _BadAnswer(Exception):
    """The platform's answer is not HTTP/1.1 as this client reads it, or the connection ended first."""


class _Connection:
    """One keep-alive connection, one request at a time."""

    def __init__(self, host, port):
        self.address = (host, port)
        self.sock = None
        self.buffer = bytearray()
        # Whether any byte of the current request's answer came.
        self.answered = False

    def close(self):
        if self.sock is not None:
            self.sock.close()
            self.sock = None
        self.buffer = bytearray()

    def drop_if_stale(self):
        """Closes an idle connection that has something to read: the server's end of it, or bytes no
        request asked for, which would be taken for the next answer."""
        if self.sock is None:
            return
        # poll, not select: a worker may hold more than FD_SETSIZE files. (socket imports select already.)
        idle = select.poll()
        idle.register(self.sock, select.POLLIN)
        if idle.poll(0):
            self.close()

    def connect(self):
        """Opens the connection unless it is open; True when it is new."""
        if self.sock is not None:
            return False
        self.sock = socket.create_connection(self.address, READ_TIMEOUT)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return True

    def exchange(self, request):
        """Sends `request` (head and body) in one write; returns the final answer's (status, body)."""
        self.answered = False
        self.connect()
        self.sock.sendall(request)
        while True:
            status, length, chunked, close = self._head()
            # Interim answers (100 Continue, 103 Early Hints) have no body: the real one follows.
            if status >= 200:
                break
        if status == 204 or status == 304:
            body = b""
        elif chunked:
            body = self._chunked()
        elif length is not None:
            body = self._take(length)
        else:
            while self._more():
                pass
            body, close = bytes(self.buffer), True
            self.buffer.clear()
        # Bytes past the answer (none was asked for) would be read as the next request's answer.
        if close or self.buffer:
            self.close()
        return status, body

    def _head(self):
        """Reads an answer's head: (status, Content-Length or None, chunked, whether the server closes)."""
        lines = self._until(b"\r\n\r\n").decode("latin-1").split("\r\n")
        version, _, rest = lines[0].partition(" ")
        code = rest[:3]
        if not version.startswith("HTTP/") or not _is_number(code) or rest[3:4] not in ("", " "):
            raise _BadAnswer("the answer is not HTTP/1.1: {!r}".format(lines[0][:40]))
        length, chunked, close = None, False, version == "HTTP/1.0"
        for line in lines[1:]:
            name, _, value = line.partition(":")
            name = name.lower()
            if name == "content-length":
                length = int(value) if _is_number(value.strip()) else -1
                if length < 0:
                    raise _BadAnswer("the answer's Content-Length is {!r}".format(value.strip()))
            elif name == "transfer-encoding":
                chunked = value.strip().lower().endswith("chunked")
            elif name == "connection":
                tokens = [token.strip() for token in value.lower().split(",")]
                close = "close" in tokens or (version == "HTTP/1.0" and "keep-alive" not in tokens)
        return int(code), length, chunked, close

    def _chunked(self):
        body = bytearray()
        while True:
            line = self._until(b"\r\n")
            digits = line.partition(b";")[0].strip()
            if not digits or digits.strip(b"0123456789abcdefABCDEF"):
                raise _BadAnswer("a chunk's size is {!r}".format(line[:40]))
            size = int(digits, 16)
            if size == 0:
                break
            body += self._take(size)
            if self._take(2) != b"\r\n":
                raise _BadAnswer("a chunk is longer than its size")
        # Trailer fields, up to the empty line.
        while self._until(b"\r\n"):
            pass
        return bytes(body)

    def _until(self, end):
        """The bytes up to `end`, which is consumed too."""
        start = 0
        while True:
            found = self.buffer.find(end, start)
            if found >= 0:
                break
            if len(self.buffer) > MAX_HEAD:
                raise _BadAnswer("a line of the answer is longer than {} bytes".format(MAX_HEAD))
            start = max(0, len(self.buffer) - len(end) + 1)
            if not self._more():
                raise _BadAnswer("the connection ended mid-answer")
        data = bytes(self.buffer[:found])
        del self.buffer[: found + len(end)]
        return data

    def _take(self, size):
        """The next `size` bytes."""
        while len(self.buffer) < size:
            if not self._more(size - len(self.buffer)):
                raise _BadAnswer("the connection ended mid-answer")
        data = bytes(self.buffer[:size])
        del self.buffer[:size]
        return data

    def _more(self, wanted=0):
        """Reads what came (waiting for it); False at the connection's end."""
        data = self.sock.recv(min(max(wanted, 65536), READ_SIZE))
        if not data:
            return False
        self.answered = True
        self.buffer += data
        return True


def _connection(host, port):
    connections = getattr(_local, "connections", None)
    if connections is None:
        connections = _local.connections = {}
    key = (host, port)
    connection = connections.get(key)
    if connection is None:
        connection = connections[key] = _Connection(host, port)
    return connection
