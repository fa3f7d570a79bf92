"""Blocking HTTP to the platform with the SDK's headers, one keep-alive connection per thread."""
import http.client
import os
import threading
from urllib.parse import urlsplit

_connections = threading.local()
LONG_POLL_TIMEOUT = 90


def _connection(netloc):
    cache = getattr(_connections, "cache", None)
    if cache is None:
        cache = _connections.cache = {}
    if netloc not in cache:
        cache[netloc] = http.client.HTTPConnection(netloc, timeout=LONG_POLL_TIMEOUT)
    return cache[netloc]


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


def _request(method, url, body=None, content_type="application/json"):
    parts = urlsplit(url)
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    headers = {"Authorization": os.environ.get("RUNPOD_AI_API_KEY", ""), "User-Agent": _agent()}
    if body is not None:
        # The SDK posts JSON text labelled as a form; the platform reads the raw body.
        headers["Content-Type"] = "application/x-www-form-urlencoded"
        headers["charset"] = "utf-8"
    elif content_type:
        headers["Content-Type"] = content_type
    data = None if body is None else body.encode("utf-8")
    for attempt in (1, 2):
        connection = _connection(parts.netloc)
        try:
            connection.request(method, target, body=data, headers=headers)
            response = connection.getresponse()
            return response.status, response.read().decode("utf-8")
        except (http.client.HTTPException, OSError):
            connection.close()
            _connections.cache.pop(parts.netloc, None)
            if attempt == 2:
                raise
    raise OSError("unreachable")


def get(url, content_type="application/json"):
    """GET; returns (status, body text)."""
    return _request("GET", url, content_type=content_type)


def post(url, text):
    """POST JSON text as the SDK does; returns (status, body text)."""
    return _request("POST", url, body=text)
