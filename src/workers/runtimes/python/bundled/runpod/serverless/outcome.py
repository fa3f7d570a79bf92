"""The job-done bodies the official SDK posts for each way a handler can end."""
import json
import os
import sys

from ..version import __version__


def returned(value):
    """The body for a handler's return value: `{"output": value}`, with a dict's "error" and
    "refresh_worker" keys lifted out beside the output."""
    if not isinstance(value, dict):
        return {"output": value}
    output = dict(value)
    error = output.pop("error", None)
    refresh = output.pop("refresh_worker", None)
    body = {"output": output}
    if error:
        body["error"] = error
    if refresh:
        body["stopPod"] = True
    if output == {}:
        del body["output"]
    return body


def exception_details():
    """The SDK's report of the exception being handled: type, message, traceback and where it ran. Call it in `except`."""
    import traceback  # only a failing job pays for the import

    kind, error, _ = sys.exc_info()
    return {
        "error_type": str(kind),
        "error_message": str(error),
        "error_traceback": traceback.format_exc(),
        "hostname": os.environ.get("RUNPOD_POD_HOSTNAME", "unknown"),
        "worker_id": os.environ.get("RUNPOD_POD_ID", "unknown"),
        "runpod_version": __version__,
    }


def raised(details):
    """The body for a handler that raised: the exception's details as a JSON string."""
    return {"error": json.dumps(details)}


def stream_raised():
    """The body for a generator that raised, in the SDK's plain-text form. Call it in `except`."""
    import traceback

    return {"error": "handler: {} \ntraceback: {}".format(sys.exc_info()[1], traceback.format_exc())}


def chunk_error(chunk):
    """The body that ends a stream when a chunk is `{"error": e, …}` (the SDK's rule), else None."""
    if isinstance(chunk, dict) and chunk.get("error"):
        return {"error": str(chunk["error"])}
    return None
