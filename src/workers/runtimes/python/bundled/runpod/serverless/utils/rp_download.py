"""runpod.serverless.utils.rp_download: fetches the files a job's input names, as the official SDK does.

Besides http(s) URLs of public addresses (the SDK refuses any other address, and so does this), a
file:// URL or a path names a local file, so that a handler can be tried offline.
"""
import ipaddress
import os
import shutil
import socket
import urllib.request
import uuid
import zipfile
from urllib.parse import unquote, urlparse

USER_AGENT = "runpod-python/0.0.0 (https://runpod.io; support@runpod.io)"
TIMEOUT = 30


def _filename_of(disposition):
    """The filename parameter of a Content-Disposition header, if any."""
    for part in (disposition or "").split(";"):
        key, _, value = part.partition("=")
        if value and key.strip().lower() == "filename":
            return value.strip().strip('"')
    return ""


def _refuse_private(host):
    """Raises before any connection when `host` resolves to an address that is not public."""
    for info in socket.getaddrinfo(host, None):
        address = ipaddress.ip_address(info[4][0].split("%")[0])
        if not address.is_global:
            raise ValueError("refused to fetch from {} ({}): not a public address".format(host, address))


def _fetch(url, destination):
    """Writes what `url` names to `destination`; returns the file's own name, when it has one."""
    parts = urlparse(url)
    if parts.scheme in ("http", "https"):
        _refuse_private(parts.hostname or "")
        request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response, open(destination, "wb") as out:
            shutil.copyfileobj(response, out)
            return _filename_of(response.headers.get("Content-Disposition")) or os.path.basename(parts.path)
    if parts.scheme not in ("file", ""):
        raise ValueError("cannot fetch {}: only http(s) URLs, file:// URLs and paths".format(url))
    path = unquote(parts.path) if parts.scheme == "file" else url
    shutil.copyfile(path, destination)
    return os.path.basename(path)


def download_files_from_urls(job_id, urls):
    """Fetches one URL or a list into jobs/JOB_ID/downloaded_files/; returns the absolute paths, None
    for each that failed (which is printed)."""
    folder = os.path.abspath(os.path.join("jobs", job_id, "downloaded_files"))
    os.makedirs(folder, exist_ok=True)
    paths = []
    for url in [urls] if isinstance(urls, str) else urls:
        if url is None:
            paths.append(None)
            continue
        target = os.path.join(folder, str(uuid.uuid4()))
        try:
            name = _fetch(url, target)
        except (OSError, ValueError) as error:
            print("Failed to download {}: {}".format(url, error))
            paths.append(None)
            continue
        extension = os.path.splitext(name)[1]
        os.replace(target, target + extension)
        paths.append(target + extension)
    return paths


def file(file_url):
    """Fetches one file into job_files/ (a .zip is also extracted beside it); returns its "file_path",
    "type" (the extension without its dot), "original_name" and "extracted_path" (or None)."""
    os.makedirs("job_files", exist_ok=True)
    stem = str(uuid.uuid4())
    target = os.path.join("job_files", stem)
    original = _fetch(file_url, target)
    kind = os.path.splitext(original)[1].replace(".", "")
    path = "{}.{}".format(target, kind)
    os.replace(target, path)
    extracted = None
    if kind == "zip":
        extracted = os.path.abspath(os.path.join("job_files", stem))
        os.makedirs(extracted, exist_ok=True)
        with zipfile.ZipFile(path) as archive:
            archive.extractall(extracted)
    return {"file_path": os.path.abspath(path), "type": kind, "original_name": original, "extracted_path": extracted}
