"""The worker loop: takes jobs from the platform, runs the handler, posts the outcomes.

It makes the requests the official SDK makes, in the same shapes, without the SDK's polling sleeps.
The main thread takes jobs and runs sync handlers itself, as the SDK runs them on its only thread, so
a job-stop reaches a sync handler only when it returns. Async handlers run on an asyncio loop in a
thread of its own, started (and asyncio imported) only when a handler needs it. The job-stop poll and
the ping have daemon threads, so a held long-poll never keeps the process alive.
"""
import json
import os
import signal
import sys
import threading
import time
import types

from .modules.rp_logger import RunPodLogger
from ..version import __version__
from . import channel, outcome, transport

# Seconds before the next job-take after a failed one (after a 204 it comes at once).
TAKE_RETRY_DELAY = 1
# Seconds before the next job-stop poll after one that brought no stops, as in the SDK.
STOP_POLL_DELAY = 1
# Stops for jobs not (yet) held that are remembered: most are for jobs that already ended.
EARLY_STOPS_KEPT = 100
# Starts a line that says which job the output that follows belongs to (see _mark_output).
JOB_MARK = "\x1erunpod-emulator "

log = RunPodLogger()


class Urls:
    """Where this worker talks to the platform, from the environment the platform started it with."""

    def __init__(self, environ):
        self.pod = environ.get("RUNPOD_POD_ID") or os.urandom(8).hex()
        self.take = environ.get("RUNPOD_WEBHOOK_GET_JOB", "").replace("$ID", self.pod)
        self.take_batch = self.take.replace("/job-take/", "/job-take-batch/")
        # Derived from the take URL, query (the credentials) included, as the SDK derives it.
        self.stop = self.take.replace("/job-take/", "/job-stop/") if "/job-take/" in self.take else ""
        self.ping = environ.get("RUNPOD_WEBHOOK_PING", "").replace("$RUNPOD_POD_ID", self.pod)
        self._done = environ.get("RUNPOD_WEBHOOK_POST_OUTPUT", "").replace("$RUNPOD_POD_ID", self.pod)
        # The emulator's own job-done-batch (not the SDK's): results ride with the next take.
        self.results = environ.get("RUNPOD_EMULATOR_POST_RESULTS", "").replace("$RUNPOD_POD_ID", self.pod)
        self._stream = environ.get("RUNPOD_WEBHOOK_POST_STREAM", "").replace("$RUNPOD_POD_ID", self.pod)
        # The emulator's worker channel (not the SDK's): takes, results and chunks as frames.
        offered = environ.get("RUNPOD_EMULATOR_CHANNEL", "").replace("$RUNPOD_POD_ID", self.pod)
        self.channel = channel.Channel(offered) if offered else None
        try:
            self.ping_interval = max(1.0, int(environ.get("RUNPOD_PING_INTERVAL") or 10000) / 1000)
        except ValueError:
            self.ping_interval = 10.0

    def done(self, job_id, stream):
        """job-done; isStream=true only for a generator's final result."""
        return transport.with_query(self._done.replace("$ID", job_id), "isStream=" + ("true" if stream else "false"))

    def chunk(self, job_id):
        """job-stream, for one chunk of a generator's output."""
        return transport.with_query(self._stream.replace("$ID", job_id), "isStream=false")

    def post(self, route, job_id, data, stream=False):
        """A job-done ("done") or job-stream ("stream") body, over the channel where there is one."""
        if self.channel:
            self.channel.post(route, job_id, data)
        else:
            transport.post(self.done(job_id, stream) if route == "done" else self.chunk(job_id), data, job_id)


_urls = None


def urls():
    """This process's Urls, made once: a missing RUNPOD_POD_ID gets one random id for everything."""
    global _urls
    if _urls is None:
        _urls = Urls(os.environ)
    return _urls


def progress_update(job, progress):
    """Posts a progress update: the job stays IN_PROGRESS and shows `progress` as its output.

    Sent before returning (the SDK sends it from a thread), so it always arrives before the result.
    """
    try:
        body = transport.encode({"status": "IN_PROGRESS", "output": progress})
        urls().post("done", job["id"], body)
    except (OSError, TypeError, ValueError) as error:
        log.error("Progress update not sent: {}".format(error), job["id"])


class Worker:
    """One worker: holds up to concurrency_modifier(current) jobs at once, one take outstanding."""

    def __init__(self, config):
        self.handler = config["handler"]
        self.concurrency_modifier = config.get("concurrency_modifier")
        self.aggregate = bool(config.get("return_aggregate_stream"))
        self.refresh = bool(config.get("refresh_worker"))
        self.urls = urls()
        # Reentrant: the SIGTERM handler takes it on the main thread, which may be holding it.
        self.lock = threading.Condition(threading.RLock())
        self.held = {}  # job id -> its asyncio task, or None (a sync job, or not started yet)
        self.stopped = set()  # held jobs the platform stopped: their outcome is dropped
        # Stops that came before the take that brings their job was read (the two are on separate
        # connections): oldest first, a few kept.
        self.early_stops = {}
        self.stopping = False
        self.loop = None
        # Sync results not posted yet: (job id, encoded body), carried by the next take.
        self.carried = []

    def run(self):
        """Takes and runs jobs until SIGTERM (or the first result, with refresh_worker), then returns
        once every held job has posted its result."""
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, self._on_signal)
        _daemon(self._ping_forever, "runpod-ping")
        if self.urls.stop:
            _daemon(self._watch_stops, "runpod-job-stop")
        concurrency = 1
        while not self.stopping:
            if self.concurrency_modifier is not None:
                concurrency = max(1, int(self.concurrency_modifier(concurrency)))
            with self.lock:
                free = concurrency - len(self.held)
                if free <= 0:
                    # Woken when a job ends, and each second for the modifier to be asked again.
                    self.lock.wait(1)
                    continue
                in_progress = bool(self.held)
            jobs = self._take(free, in_progress)
            with self.lock:
                for job in jobs:
                    self.held[job["id"]] = None
                    if self.early_stops.pop(job["id"], False):
                        self.stopped.add(job["id"])
            # Jobs that arrive after SIGTERM are run too: dropping them would lose them.
            for job in jobs:
                self._run(job)
        self._post_carried()
        with self.lock:
            while self.held:
                self.lock.wait()

    def _on_signal(self, signum, frame):
        with self.lock:
            self.stopping = True
            self.lock.notify_all()

    def _take(self, free, in_progress):
        """One job-take (for one free slot) or job-take-batch (for more), carrying the results waiting;
        returns the jobs it got."""
        flag = "job_in_progress=" + ("1" if in_progress else "0")
        carried, self.carried = self.carried, []
        if free == 1:
            url = transport.with_query(self.urls.take, flag)
        else:
            url = transport.with_query(self.urls.take_batch, "batch_size={}&{}".format(free, flag))
        try:
            if self.urls.channel:
                return self._take_over_channel(carried, free, in_progress)
            try:
                status, body = self._take_carrying(carried, free, flag) if carried else transport.get(url)
            except OSError:
                if not carried:
                    raise
                # The emulator never read them: posted one by one, then the take goes as usual.
                self._post_carried(carried)
                status, body = transport.get(url)
            if status == 204:
                return []
            jobs = json.loads(body) if status == 200 else None
            if isinstance(jobs, dict):
                jobs = [jobs]
            if isinstance(jobs, list):
                jobs = [job for job in jobs if isinstance(job, dict) and "id" in job and "input" in job]
                if jobs:
                    return jobs
            problem = "answered {} {}".format(status, body[:200].decode("utf-8", "replace"))
        except (OSError, ValueError) as error:
            problem = str(error)
        if self.stopping:
            # Asked to stop: the platform closing its end is expected, not worth a line.
            return []
        log.error("Failed to get a job: {}".format(problem))
        time.sleep(TAKE_RETRY_DELAY)
        return []

    def _take_carrying(self, carried, free, flag):
        """The emulator's job-done-batch: the results, then a take of `free` jobs, in one request."""
        query = transport.query([("id", job_id) for job_id, _ in carried]) + "&batch_size={}&{}".format(free, flag)
        body = carried[0][1] if len(carried) == 1 else b"[" + b",".join(data for _, data in carried) + b"]"
        return transport.post(transport.with_query(self.urls.results, query), body, carried[0][0])

    def _take_over_channel(self, carried, free, in_progress):
        try:
            return self.urls.channel.take(carried, free, in_progress)
        except channel.Refused:
            raise
        except OSError:
            # Maybe never read: posted by themselves (a result that did arrive is not taken twice).
            self._post_carried(carried)
            raise

    # ------------------------------------------------------------------ running one job

    def _run(self, job):
        """Calls the handler: sync results are finished here, async ones go to the event loop."""
        if self._is_stopped(job["id"]):
            self._release(job["id"])
            return
        # What a sync handler prints belongs to this job, however late the emulator reads it. Where the
        # results ride with the next take, the job's output is flushed before its result leaves, and
        # the emulator reads it first: no mark is needed (two writes, and a wake-up, saved per job).
        if not self.urls.results:
            _mark_output(job["id"])
        went_async = False
        try:
            try:
                result = self.handler(job)
            except Exception:
                self._finish(job, self._raised(job), False)
                return
            if hasattr(result, "__await__") or hasattr(result, "__anext__"):
                went_async = True
                self._event_loop().call_soon_threadsafe(self._start_task, job, result)
            elif isinstance(result, types.GeneratorType):
                self._finish(job, self._stream(job, result), True)
            else:
                self._finish(job, outcome.returned(result), False)
        finally:
            # An async job's output comes while others run: it goes unmarked. A sync job's mark stays
            # until the next job's replaces it (two writes saved per job): what prints between jobs,
            # which only background threads can, goes with the job that ran last.
            if went_async:
                if not self.urls.results:
                    _mark_output(None)
            else:
                _flush_output()

    def _stream(self, job, chunks):
        """Posts a sync generator's chunks as they come; returns the job-done body (None once stopped)."""
        collected = []
        try:
            for chunk in chunks:
                if self._is_stopped(job["id"]):
                    chunks.close()
                    return None
                ended = outcome.chunk_error(chunk)
                if ended:
                    return ended
                self._post_chunk(job, chunk)
                collected.append(chunk)
        except Exception:
            return self._stream_raised(job)
        return {"output": collected if self.aggregate else []}

    def _finish(self, job, body, stream):
        """Posts a job's outcome, unless the platform stopped the job, then frees its slot. A plain
        result goes with the next take where the emulator offers that."""
        try:
            if self.urls.results and not stream and not self.refresh and body is not None:
                data = self._encoded(job, body)
                if not self._is_stopped(job["id"]):
                    self.carried.append((job["id"], data))
            else:
                self._post_done(job, body, stream)
        finally:
            self._release(job["id"])

    def _post_carried(self, carried=None):
        """Posts results no take carried (the worker is stopping, or a take failed), one by one."""
        if carried is None:
            carried, self.carried = self.carried, []
        for job_id, data in carried:
            try:
                self.urls.post("done", job_id, data)
            except OSError as error:
                log.error("Failed to return the job's result: {}".format(error), job_id)

    def _post_done(self, job, body, stream):
        if body is None or self._is_stopped(job["id"]):
            return
        data = self._encoded(job, body)
        try:
            self.urls.post("done", job["id"], data, stream)
        except OSError as error:
            log.error("Failed to return the job's result: {}".format(error), job["id"])

    def _encoded(self, job, body):
        try:
            return transport.encode(self._marked(body))
        except (TypeError, ValueError):
            # The SDK would post nothing and leave the job running until it times out.
            return transport.encode(self._marked(self._raised(job)))

    def _marked(self, body):
        """With refresh_worker configured, every result asks the platform for a fresh worker."""
        if self.refresh:
            body["stopPod"] = True
        return body

    def _post_chunk(self, job, chunk):
        """Posts one chunk; raises TypeError or ValueError for a chunk JSON cannot hold."""
        data = transport.encode({"output": chunk})
        try:
            self.urls.post("stream", job["id"], data)
        except OSError as error:
            log.error("Failed to stream a chunk: {}".format(error), job["id"])

    def _raised(self, job):
        """The job-done body for the exception being handled, logged as the SDK logs it: a line under
        the job, then the report as JSON. Call it in `except`."""
        details = outcome.exception_details()
        log.error("Captured Handler Exception", job["id"])
        log.error(json.dumps(details, indent=4))
        return outcome.raised(details)

    def _stream_raised(self, job):
        """The job-done body for a generator that raised, logged as the SDK logs it. Call it in `except`."""
        log.error(str(sys.exc_info()[1]), job["id"])
        return outcome.stream_raised()

    def _release(self, job_id):
        with self.lock:
            self.held.pop(job_id, None)
            self.stopped.discard(job_id)
            if self.refresh:
                self.stopping = True
            self.lock.notify_all()

    def _is_stopped(self, job_id):
        with self.lock:
            return job_id in self.stopped

    # ------------------------------------------------------------------ async handlers

    def _event_loop(self):
        if self.loop is None:
            import asyncio

            self.loop = asyncio.new_event_loop()
            _daemon(self.loop.run_forever, "runpod-asyncio")
        return self.loop

    def _start_task(self, job, result):
        """On the event loop: runs an async job as a task, which a job-stop cancels."""
        job_id = job["id"]
        task = self.loop.create_task(self._complete(job, result))
        task.add_done_callback(lambda task: self._task_done(job_id, result, task))
        with self.lock:
            self.held[job_id] = task
            if job_id in self.stopped:
                task.cancel()

    async def _complete(self, job, result):
        try:
            if hasattr(result, "__anext__"):
                body, stream = await self._stream_async(job, result), True
            else:
                try:
                    body = outcome.returned(await result)
                except Exception:
                    body = self._raised(job)
                stream = False
        except SystemExit as exit:
            # In this thread it would end only the thread; the SDK's process exits.
            _exit_now(exit.code)
        await self.loop.run_in_executor(None, self._post_done, job, body, stream)

    async def _stream_async(self, job, chunks):
        collected = []
        try:
            async for chunk in chunks:
                ended = outcome.chunk_error(chunk)
                if ended:
                    return ended
                await self.loop.run_in_executor(None, self._post_chunk, job, chunk)
                collected.append(chunk)
        except Exception:
            return self._stream_raised(job)
        return {"output": collected if self.aggregate else []}

    def _task_done(self, job_id, result, task):
        if task.cancelled() and hasattr(result, "close"):
            # A coroutine stopped before it began would warn that it was never awaited.
            result.close()
        self._release(job_id)

    # ------------------------------------------------------------------ background threads

    def _stop_jobs(self, ids):
        with self.lock:
            for job_id in ids:
                if job_id not in self.held:
                    self.early_stops[job_id] = True
                    if len(self.early_stops) > EARLY_STOPS_KEPT:
                        del self.early_stops[next(iter(self.early_stops))]
                    continue
                self.stopped.add(job_id)
                task = self.held[job_id]
                if task is not None:
                    self.loop.call_soon_threadsafe(task.cancel)

    def _watch_stops(self):
        """Long-polls job-stop: again at once after stops came, a second later otherwise, as the SDK."""
        while True:
            try:
                status, body = transport.get(self.urls.stop)
                ids = _stop_ids(body) if status == 200 else []
            except OSError:
                ids = []
            if ids:
                self._stop_jobs(ids)
            else:
                time.sleep(STOP_POLL_DELAY)

    def _ping_forever(self):
        """Tells the platform every ping interval that the worker lives and which jobs it holds. Ends at
        SIGTERM, as the SDK's heartbeat process dies with it."""
        if not self.urls.ping:
            return
        while not self.stopping:
            with self.lock:
                ids = ",".join(self.held)
            query = transport.query(([("job_id", ids)] if ids else []) + [("runpod_version", __version__)])
            try:
                transport.get(transport.with_query(self.urls.ping, query), json_content_type=False)
            except OSError:
                pass
            time.sleep(self.urls.ping_interval)


def _stop_ids(body):
    try:
        payload = json.loads(body)
    except ValueError:
        return []
    ids = payload.get("jobsToStop") if isinstance(payload, dict) else None
    return [job_id for job_id in ids if isinstance(job_id, str)] if isinstance(ids, list) else []


# The job last marked on both streams; "" before the first mark.
_marked = [""]


def _mark_output(job_id):
    """Tells the emulator, in line with the output itself, which job the lines that follow belong to
    (None: no job). A line on a pipe and a result on a socket reach it in either order, so a job's last
    print can arrive after its result; these marks keep it with its job. The emulator never shows them."""
    if _marked[0] == job_id:
        return
    _marked[0] = job_id
    mark = (JOB_MARK + json.dumps({"job": job_id}) + "\n").encode()
    for stream, fd in ((sys.stdout, 1), (sys.stderr, 2)):
        try:
            stream.flush()
            os.write(fd, mark)
        except (OSError, ValueError, AttributeError):
            pass


def _daemon(target, name):
    threading.Thread(target=target, name=name, daemon=True).start()


def _exit_now(code):
    """Ends the process as sys.exit(code) would end it from the main thread."""
    if code is None:
        code = 0
    elif not isinstance(code, int):
        print(code, file=sys.stderr)
        code = 1
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def _flush_output():
    """Sends what Python still buffers of a job's output, under its mark."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError, AttributeError):
            pass
