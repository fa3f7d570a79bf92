"""The worker loop: takes jobs from the platform (here, the emulator), runs the handler, posts outcomes.

It sends the requests the official SDK sends, in the same shapes (SPEC §2), without its sleeps.
Blocking HTTP runs in daemon threads so a held long-poll never keeps the interpreter alive; sync
handlers run on the event loop's thread, as in the SDK, so a job-stop reaches them only when they return.
"""
import asyncio
import inspect
import json
import os
import platform
import signal
import sys
import threading
import time
import traceback

from . import http

VERSION = "1.12.0+emulator"


def _env(name, default=None):
    value = os.environ.get(name)
    return default if value is None or value == "" else value


def _with_query(url, **params):
    query = "&".join(f"{key}={value}" for key, value in params.items())
    return f"{url}{'&' if '?' in url else '?'}{query}"


class Worker:
    def __init__(self, config):
        self.handler = config["handler"]
        self.modifier = config.get("concurrency_modifier")
        self.aggregate = bool(config.get("return_aggregate_stream"))
        self.refresh = bool(config.get("refresh_worker"))
        self.pod = _env("RUNPOD_POD_ID", "local")
        self.hostname = _env("RUNPOD_POD_HOSTNAME", self.pod)
        take = _env("RUNPOD_WEBHOOK_GET_JOB").replace("$ID", self.pod)
        self.take_url = take
        self.batch_url = take.replace("/job-take/", "/job-take-batch/")
        path, _, query = take.partition("?")
        self.stop_url = path.rsplit("/job-take/", 1)[0] + f"/job-stop/{self.pod}" + (f"?{query}" if query else "")
        self.done_template = _env("RUNPOD_WEBHOOK_POST_OUTPUT", "").replace("$RUNPOD_POD_ID", self.pod)
        self.stream_template = _env("RUNPOD_WEBHOOK_POST_STREAM", "").replace("$RUNPOD_POD_ID", self.pod)
        self.ping_url = (_env("RUNPOD_WEBHOOK_PING") or "").replace("$RUNPOD_POD_ID", self.pod)
        self.ping_interval = max(1.0, int(_env("RUNPOD_PING_INTERVAL", "10000")) / 1000)
        self.concurrency = 1
        self.running = {}
        self.stopped = set()
        self.stopping = False
        self.loop = None
        self.slot_freed = None

    # ------------------------------------------------------------------ main loop

    async def run(self):
        self.loop = asyncio.get_running_loop()
        self.slot_freed = asyncio.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            self.loop.add_signal_handler(sig, self.request_stop)
        threading.Thread(target=self._ping_forever, name="runpod-ping", daemon=True).start()
        threading.Thread(target=self._poll_stops_forever, name="runpod-job-stop", daemon=True).start()
        while not self.stopping:
            if self.modifier is not None:
                self.concurrency = max(1, int(self.modifier(self.concurrency)))
            free = self.concurrency - len(self.running)
            if free <= 0:
                self.slot_freed.clear()
                await self.slot_freed.wait()
                continue
            for job in await self._take(free):
                self.running[job["id"]] = asyncio.ensure_future(self._run_job(job))
        while self.running:
            await asyncio.wait(list(self.running.values()))

    def request_stop(self):
        """SIGTERM: take nothing more, finish the running jobs (posting their results), then exit."""
        self.stopping = True
        self.slot_freed.set()

    async def _take(self, free):
        in_progress = 1 if self.running else 0
        if free == 1:
            url = _with_query(self.take_url, job_in_progress=in_progress)
        else:
            url = _with_query(self.batch_url, batch_size=free, job_in_progress=in_progress)
        try:
            status, body = await self._blocking(http.get, url)
        except OSError:
            await asyncio.sleep(0.5)
            return []
        if status != 200 or not body:
            return []
        try:
            parsed = json.loads(body)
        except ValueError:
            return []
        jobs = parsed if isinstance(parsed, list) else [parsed]
        return [job for job in jobs if isinstance(job, dict) and "id" in job and "input" in job]

    def _poll_stops_forever(self):
        """job-stop, polled from its own thread: a sync handler blocking the loop must not delay the
        next poll, and a job stopped while it ran must be known as stopped by the time it returns."""
        while True:
            try:
                status, body = http.get(self.stop_url)
                ids = json.loads(body).get("jobsToStop", []) if status == 200 and body else []
            except (OSError, ValueError):
                status, ids = None, []
            ids = [job_id for job_id in ids if job_id in self.running]
            if ids:
                self.stopped.update(ids)
                self.loop.call_soon_threadsafe(self._cancel, ids)
            if status not in (200, 204):
                time.sleep(1)

    def _cancel(self, ids):
        for job_id in ids:
            task = self.running.get(job_id)
            if task is not None:
                task.cancel()

    # ------------------------------------------------------------------ one job

    async def _run_job(self, job):
        try:
            body, is_stream = await self._outcome_of(job)
            if body is not None and job["id"] not in self.stopped:
                if self.refresh:
                    body["stopPod"] = True
                    self.request_stop()
                url = _with_query(self.done_template.replace("$ID", job["id"]), isStream="true" if is_stream else "false")
                await self._post(url, body)
        finally:
            # The slot frees once the result is posted, so an exiting worker never drops a result.
            self.stopped.discard(job["id"])
            self.running.pop(job["id"], None)
            self.slot_freed.set()

    async def _outcome_of(self, job):
        """The job-done body (None for a stopped job) and whether the handler streamed."""
        streams = inspect.isasyncgenfunction(self.handler) or inspect.isgeneratorfunction(self.handler)
        try:
            if streams:
                return await self._run_generator(job), True
            result = self.handler(job)
            if inspect.isawaitable(result):
                result = await result
            return outcome(result), False
        except asyncio.CancelledError:
            return None, streams
        except SystemExit as exit:
            # sys.exit() in a handler ends the worker, as it does under the SDK: with its code, at once.
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(exit.code if isinstance(exit.code, int) else 1)
        except Exception:
            return {"error": json.dumps(self._error_payload())}, streams

    async def _run_generator(self, job):
        chunks = []
        stream_url = _with_query(self.stream_template.replace("$ID", job["id"]), isStream="false")
        produced = self.handler(job)
        if inspect.isasyncgen(produced):
            async for chunk in produced:
                chunks.append(chunk)
                await self._post(stream_url, {"output": chunk})
        else:
            for chunk in produced:
                chunks.append(chunk)
                await self._post(stream_url, {"output": chunk})
        return {"output": chunks if self.aggregate else []}

    def _error_payload(self):
        kind, error, _ = sys.exc_info()
        return {
            "error_type": str(kind),
            "error_message": str(error),
            "error_traceback": traceback.format_exc(),
            "hostname": self.hostname,
            "worker_id": self.pod,
            "runpod_version": VERSION,
        }

    # ------------------------------------------------------------------ plumbing

    async def _post(self, url, body):
        try:
            await self._blocking(http.post, url, json.dumps(body))
        except OSError as error:
            print(f"could not post to the platform: {error}", file=sys.stderr, flush=True)

    def _blocking(self, fn, *args):
        """Runs blocking I/O in a daemon thread: a held long-poll never delays the interpreter's exit."""
        future = self.loop.create_future()

        def work():
            try:
                result = fn(*args)
            except BaseException as error:  # handed to the awaiting coroutine
                self.loop.call_soon_threadsafe(_settle, future, None, error)
            else:
                self.loop.call_soon_threadsafe(_settle, future, result, None)

        threading.Thread(target=work, daemon=True).start()
        return future

    def _ping_forever(self):
        if not self.ping_url:
            return
        while True:
            ids = ",".join(list(self.running))
            params = {"job_id": ids} if ids else {}
            try:
                http.get(_with_query(self.ping_url, **params, runpod_version=VERSION), content_type=None)
            except OSError:
                pass
            time.sleep(self.ping_interval)


def _settle(future, result, error):
    if future.done():
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)


def outcome(result):
    """The job-done body for a handler's return value, as the SDK builds it."""
    if isinstance(result, dict):
        output = dict(result)
        error = output.pop("error", None)
        refresh = output.pop("refresh_worker", None)
        body = {"output": output}
        if error:
            body["error"] = error
        if refresh:
            body["stopPod"] = True
        if body["output"] == {}:
            del body["output"]
        return body
    return {"output": result}


def user_agent():
    return (
        f"RunPod-Python-SDK/{VERSION} ({platform.system()} {platform.release()}; {platform.machine()}) "
        f"Language/Python {platform.python_version()}"
    )
