"""The worker loop: takes jobs from the platform (here, the emulator), runs the handler, posts outcomes.

It sends the requests the official SDK sends, in the same shapes (SPEC §2), without its sleeps.
Sync handlers run on the main thread, as in the SDK, so a job-stop reaches them only when they return;
async handlers run on an event loop in a thread of their own, started (and asyncio imported, which
costs tens of milliseconds) only for a handler that needs it. Pings and job-stop polls have their own
daemon threads, so a held long-poll never keeps the interpreter alive.
"""
import json
import os
import signal
import sys
import threading
import time

from . import http

VERSION = "1.12.0+emulator"


def _env(name, default=None):
    value = os.environ.get(name)
    return default if value is None or value == "" else value


def _with_query(url, **params):
    query = "&".join(f"{key}={value}" for key, value in params.items())
    return f"{url}{'&' if '?' in url else '?'}{query}"


def _is_async(result):
    return hasattr(result, "__await__") or hasattr(result, "__anext__")


def _is_generator(result):
    return hasattr(result, "__next__") and hasattr(result, "__iter__")


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
        # job id -> its asyncio task, or None for a job running on the main thread
        self.running = {}
        self.stopped = set()
        self.stopping = False
        self.changed = threading.Condition()
        self.loop = None

    # ------------------------------------------------------------------ main loop

    def run(self):
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: self.request_stop())
        threading.Thread(target=self._ping_forever, name="runpod-ping", daemon=True).start()
        threading.Thread(target=self._poll_stops_forever, name="runpod-job-stop", daemon=True).start()
        while not self.stopping:
            if self.modifier is not None:
                self.concurrency = max(1, int(self.modifier(self.concurrency)))
            with self.changed:
                if self.concurrency - len(self.running) <= 0:
                    self.changed.wait(1)
                    continue
            for job in self._take(self.concurrency - len(self.running)):
                self.running[job["id"]] = None
                self._start(job)
        with self.changed:
            while self.running:
                self.changed.wait(1)

    def request_stop(self):
        """SIGTERM: take nothing more, finish the running jobs (posting their results), then exit."""
        self.stopping = True
        with self.changed:
            self.changed.notify_all()

    def _take(self, free):
        in_progress = 1 if self.running else 0
        if free == 1:
            url = _with_query(self.take_url, job_in_progress=in_progress)
        else:
            url = _with_query(self.batch_url, batch_size=free, job_in_progress=in_progress)
        try:
            status, body = http.get(url)
            parsed = json.loads(body) if status == 200 and body else []
        except (OSError, ValueError):
            time.sleep(0.5)
            return []
        jobs = parsed if isinstance(parsed, list) else [parsed]
        return [job for job in jobs if isinstance(job, dict) and "id" in job and "input" in job]

    # ------------------------------------------------------------------ one job

    def _start(self, job):
        """Calls the handler: a sync result is finished here; a coroutine or async generator goes to the loop."""
        try:
            result = self.handler(job)
            if _is_async(result):
                self._async_loop().call_soon_threadsafe(self._schedule, job, result)
            elif _is_generator(result):
                self._finish(job, self._stream(job, result), True)
            else:
                self._finish(job, outcome(result), False)
        except SystemExit as exit:
            _exit_now(exit)
        except Exception:
            self._finish(job, {"error": json.dumps(self._error_payload())}, _is_generator_function(self.handler))

    def _stream(self, job, chunks_source):
        chunks = []
        url = _with_query(self.stream_template.replace("$ID", job["id"]), isStream="false")
        for chunk in chunks_source:
            if job["id"] in self.stopped:
                break
            chunks.append(chunk)
            self._post(url, {"output": chunk})
        return {"output": chunks if self.aggregate else []}

    def _finish(self, job, body, is_stream):
        """Posts the outcome (a stopped job's is dropped), then frees the slot."""
        job_id = job["id"]
        try:
            if body is not None and job_id not in self.stopped:
                if self.refresh:
                    body["stopPod"] = True
                    self.request_stop()
                url = _with_query(self.done_template.replace("$ID", job_id), isStream="true" if is_stream else "false")
                self._post(url, body)
        finally:
            with self.changed:
                self.stopped.discard(job_id)
                self.running.pop(job_id, None)
                self.changed.notify_all()

    # ------------------------------------------------------------------ async handlers

    def _async_loop(self):
        if self.loop is None:
            import asyncio

            self.loop = asyncio.new_event_loop()
            threading.Thread(target=self.loop.run_forever, name="runpod-async", daemon=True).start()
        return self.loop

    def _schedule(self, job, result):
        task = self.loop.create_task(self._complete_async(job, result))
        self.running[job["id"]] = task
        if job["id"] in self.stopped:
            task.cancel()

    async def _complete_async(self, job, result):
        import asyncio

        is_stream = hasattr(result, "__anext__")
        try:
            if is_stream:
                chunks = []
                url = _with_query(self.stream_template.replace("$ID", job["id"]), isStream="false")
                async for chunk in result:
                    chunks.append(chunk)
                    await self.loop.run_in_executor(None, self._post, url, {"output": chunk})
                body = {"output": chunks if self.aggregate else []}
            else:
                body = outcome(await result)
        except asyncio.CancelledError:
            body = None
        except SystemExit as exit:
            _exit_now(exit)
        except Exception:
            body = {"error": json.dumps(self._error_payload())}
        await self.loop.run_in_executor(None, self._finish, job, body, is_stream)

    # ------------------------------------------------------------------ background threads

    def _poll_stops_forever(self):
        """job-stop, polled from its own thread: a sync handler blocking the main thread must not delay
        the next poll, and a job stopped while it ran must be known as stopped by the time it returns."""
        while True:
            try:
                status, body = http.get(self.stop_url)
                ids = json.loads(body).get("jobsToStop", []) if status == 200 and body else []
            except (OSError, ValueError):
                status, ids = None, []
            with self.changed:
                ids = [job_id for job_id in ids if job_id in self.running]
                self.stopped.update(ids)
                tasks = [self.running[job_id] for job_id in ids if self.running[job_id] is not None]
            for task in tasks:
                self.loop.call_soon_threadsafe(task.cancel)
            if status not in (200, 204):
                time.sleep(1)

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

    # ------------------------------------------------------------------ plumbing

    def _post(self, url, body):
        try:
            http.post(url, json.dumps(body))
        except OSError as error:
            print(f"could not post to the platform: {error}", file=sys.stderr, flush=True)

    def _error_payload(self):
        import traceback

        kind, error, _ = sys.exc_info()
        return {
            "error_type": str(kind),
            "error_message": str(error),
            "error_traceback": traceback.format_exc(),
            "hostname": self.hostname,
            "worker_id": self.pod,
            "runpod_version": VERSION,
        }


def _is_generator_function(handler):
    code = getattr(handler, "__code__", None)
    return bool(code and code.co_flags & 0x20)


def _exit_now(exit):
    """sys.exit() in a handler ends the worker, as it does under the SDK: with its code, at once."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(exit.code if isinstance(exit.code, int) else 1)


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
