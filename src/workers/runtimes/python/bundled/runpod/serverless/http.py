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


def _request(method, url, body=None, content_type="application/json"):
    from .worker import user_agent

    parts = urlsplit(url)
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    headers = {"Authorization": os.environ.get("RUNPOD_AI_API_KEY", ""), "User-Agent": user_agent()}
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
