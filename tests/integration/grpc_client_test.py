"""The real videogen_server binary over loopback, driven by Python grpcio (a client no one here
wrote) with the tiny Wan2.1 model of tests/golden/wan_tiny on the CPU.

Covers: health (live and ready) and reflection; Generate, SubmitJob, WatchJob, CancelJob,
FetchVideo and ListJobs; bad input and abuse (malformed and oversized messages, unknown model,
out-of-range budget, 1000 rapid submits against a small queue, many watchers, clients leaving
mid-stream); the Prometheus endpoint checked by promtool; a bounded load run (throughput, submit
latency percentiles, server memory before and after); TLS with a self-signed certificate (made
with the openssl tool); SIGTERM and a restart that keeps results.

Run by tests/integration/BUILD:
  python3 grpc_client_test.py SERVER_BINARY PROMTOOL
"""

import hashlib
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.request

import grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from grpc_tools import protoc

SERVER_BINARY = None
PROMTOOL = None
ADMIN_TOKEN = "integration-admin-token"
SERVICE = "videogen.v1.VideoGeneration"


def _generate_stubs(out_dir):
    """Generates the Python modules of proto/*.proto into out_dir and imports them."""
    import grpc_tools

    well_known = os.path.join(os.path.dirname(grpc_tools.__file__), "_proto")
    protos = sorted(f"proto/{name}" for name in os.listdir("proto") if name.endswith(".proto"))
    rc = protoc.main(["protoc", "-I.", f"-I{well_known}", f"--python_out={out_dir}",
                      f"--grpc_python_out={out_dir}"] + protos)
    if rc != 0:
        raise RuntimeError(f"protoc failed with {rc}")
    sys.path.insert(0, out_dir)


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _rss_kib(pid):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


class Server:
    """One videogen_server process with its own data directory."""

    def __init__(self, data_dir, max_queued_jobs=8, tls=None):
        self.data_dir = data_dir
        self.metrics_port = _free_port()
        work = tempfile.mkdtemp(dir=os.environ.get("TEST_TMPDIR"))
        self.port_file = os.path.join(work, "port")
        token_file = os.path.join(work, "admin-token")
        with open(token_file, "w") as f:
            f.write(ADMIN_TOKEN + "\n")
        self.config = os.path.join(work, "server.textproto")
        model = os.path.abspath("tests/golden/wan_tiny")
        with open(self.config, "w") as f:
            f.write(f"""
listen_address: "127.0.0.1:0"
admin_token_file: "{token_file}"
metrics_port: {self.metrics_port}
data_dir: "{data_dir}"
max_queued_jobs: {max_queued_jobs}
shutdown_grace_period {{ seconds: 5 }}
models {{ name: "wan-tiny" path: "{model}" }}
""")
            if tls is not None:
                f.write(f'tls {{ cert_file: "{tls[0]}" key_file: "{tls[1]}" }}\n')
        self.log = open(os.path.join(work, "server.log"), "w")
        self.process = subprocess.Popen(
            [SERVER_BINARY, f"--config={self.config}", f"--port_file={self.port_file}"],
            stdout=self.log, stderr=subprocess.STDOUT)
        for _ in range(300):
            if os.path.exists(self.port_file):
                break
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited with {self.process.returncode}")
            time.sleep(0.1)
        with open(self.port_file) as f:
            self.address = f"127.0.0.1:{int(f.read())}"
        if tls is None:
            self.channel = grpc.insecure_channel(self.address)
        else:
            with open(tls[0], "rb") as f:
                self.channel = grpc.secure_channel(
                    self.address, grpc.ssl_channel_credentials(root_certificates=f.read()))
        self.stub = videogen_service_pb2_grpc.VideoGenerationStub(self.channel)
        self.health = grpc_health_v1_pb2_grpc.HealthStub(self.channel)
        self.await_ready()

    def await_ready(self):
        request = grpc_health_v1_pb2.HealthCheckRequest(service=SERVICE)
        for _ in range(600):
            response = self.health.Check(request, timeout=5)
            if response.status == grpc_health_v1_pb2.HealthCheckResponse.SERVING:
                return
            time.sleep(0.1)
        raise RuntimeError("the video service never became ready")

    def stop(self):
        """SIGTERM; returns the exit status."""
        self.channel.close()
        self.process.send_signal(signal.SIGTERM)
        rc = self.process.wait(timeout=60)
        self.log.close()
        return rc


def _spec(**fields):
    values = dict(prompt="a paper boat on a rainy street", height=32, width=48, frames=9,
                  steps=3, seed=11)
    values.update(fields)
    return video_job_pb2.VideoJobSpec(**values)


def _long_spec():
    return _spec(height=256, width=256, frames=81, steps=100)


def _tiny_spec():
    return _spec(height=16, width=16, frames=1, steps=1)


class ServiceTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.data_dir = tempfile.mkdtemp(dir=os.environ.get("TEST_TMPDIR"))
        cls.server = Server(cls.data_dir)
        cls.stub = cls.server.stub

    @classmethod
    def tearDownClass(cls):
        assert cls.server.stop() == 0

    def admin(self):
        return (("authorization", f"Bearer {ADMIN_TOKEN}"),)

    def await_finished(self, job_id, timeout_s=300):
        deadline = time.time() + timeout_s
        while time.time() < deadline:
            job = self.stub.GetJob(videogen_service_pb2.GetJobRequest(job_id=job_id)).job
            if job.state not in (video_job_pb2.JOB_STATE_QUEUED, video_job_pb2.JOB_STATE_RUNNING):
                return job
            time.sleep(0.05)
        self.fail(f"job {job_id} did not finish")

    def fetch(self, job_id, offset=0):
        data = b""
        for chunk in self.stub.FetchVideo(
                videogen_service_pb2.FetchVideoRequest(job_id=job_id, offset=offset)):
            self.assertEqual(chunk.offset, offset + len(data))
            data += chunk.data
        return data

    def test_health_and_reflection(self):
        live = self.server.health.Check(grpc_health_v1_pb2.HealthCheckRequest(service=""))
        self.assertEqual(live.status, grpc_health_v1_pb2.HealthCheckResponse.SERVING)
        stub = reflection_pb2_grpc.ServerReflectionStub(self.server.channel)
        responses = stub.ServerReflectionInfo(
            iter([reflection_pb2.ServerReflectionRequest(list_services="")]))
        services = {s.name for r in responses for s in r.list_services_response.service}
        self.assertIn(SERVICE, services)
        self.assertIn("grpc.health.v1.Health", services)
        info = self.stub.GetServerInfo(videogen_service_pb2.GetServerInfoRequest())
        self.assertEqual([(m.name, m.ready) for m in info.models], [("wan-tiny", True)])

    def test_generate_streams_events_and_fetch_returns_the_mp4(self):
        events = list(self.stub.Generate(videogen_service_pb2.GenerateRequest(spec=_spec())))
        self.assertEqual(events[0].WhichOneof("event"), "accepted")
        self.assertEqual(events[-1].WhichOneof("event"), "result")
        kinds = {e.WhichOneof("event") for e in events}
        self.assertTrue({"stage_changed", "progress"} <= kinds, kinds)
        job = events[-1].result
        self.assertEqual(job.state, video_job_pb2.JOB_STATE_SUCCEEDED, job.error_message)
        for stage in ("queued", "text_encoding", "denoising", "vae_decoding", "video_encoding",
                      "total"):
            self.assertTrue(job.stage_timings.HasField(stage), stage)
        data = self.fetch(job.id)
        self.assertEqual(len(data), job.output.size_bytes)
        self.assertEqual(hashlib.sha256(data).hexdigest(), job.output.sha256)
        self.assertEqual(data[4:8], b"ftyp")
        self.assertEqual(self.fetch(job.id, offset=100), data[100:])

    def test_submit_watch_and_cancel_mid_run(self):
        job = self.stub.SubmitJob(videogen_service_pb2.SubmitJobRequest(spec=_long_spec())).job
        self.assertEqual(job.state, video_job_pb2.JOB_STATE_QUEUED)
        watch = self.stub.WatchJob(videogen_service_pb2.WatchJobRequest(job_id=job.id))
        first = next(watch)
        self.assertEqual(first.WhichOneof("event"), "accepted")
        for event in watch:
            if event.WhichOneof("event") == "progress":
                break
        cancelled = self.stub.CancelJob(videogen_service_pb2.CancelJobRequest(job_id=job.id)).job
        self.assertIn(cancelled.state, (video_job_pb2.JOB_STATE_RUNNING,
                                        video_job_pb2.JOB_STATE_CANCELLED))
        last = list(watch)[-1]
        self.assertEqual(last.result.state, video_job_pb2.JOB_STATE_CANCELLED)
        self.assertLess(last.result.steps_done, 100)
        with self.assertRaises(grpc.RpcError) as error:
            self.fetch(job.id)
        self.assertEqual(error.exception.code(), grpc.StatusCode.FAILED_PRECONDITION)

    def test_client_leaving_generate_cancels_its_job(self):
        call = self.stub.Generate(videogen_service_pb2.GenerateRequest(spec=_long_spec()))
        job_id = None
        for event in call:
            if event.WhichOneof("event") == "accepted":
                job_id = event.job_id
            if event.WhichOneof("event") == "progress":
                break
        call.cancel()
        job = self.await_finished(job_id)
        self.assertEqual(job.state, video_job_pb2.JOB_STATE_CANCELLED)

    def test_an_acceleration_policy_runs_instead_of_a_budget(self):
        events = list(self.stub.Generate(videogen_service_pb2.GenerateRequest(
            spec=_spec(steps=6, acceleration=" toca( reuse = 0.5 )"))))
        job = events[-1].result
        self.assertEqual(job.state, video_job_pb2.JOB_STATE_SUCCEEDED, job.error_message)
        self.assertEqual(job.spec.acceleration, "toca(interval=2,reuse=0.5)")
        self.assertFalse(job.HasField("schedule"))
        self.assertLess(job.tokens_computed, job.dense_tokens)
        self.assertGreater(job.tokens_computed, 0)
        self.assertEqual(job.steps_done, 6)

    def test_bad_input_is_refused_with_the_field_named(self):
        cases = [
            (_spec(model="no-such-model"), grpc.StatusCode.NOT_FOUND, "no-such-model"),
            (_spec(budget=1.5), grpc.StatusCode.INVALID_ARGUMENT, "budget"),
            (_spec(prompt=""), grpc.StatusCode.INVALID_ARGUMENT, "prompt"),
            (_spec(height=33), grpc.StatusCode.INVALID_ARGUMENT, "height"),
            (_spec(frames=10), grpc.StatusCode.INVALID_ARGUMENT, "frames"),
            (_spec(prompt="x" * 5000), grpc.StatusCode.INVALID_ARGUMENT, "prompt"),
            (_spec(acceleration="fastcache"), grpc.StatusCode.INVALID_ARGUMENT, "acceleration"),
            (_spec(acceleration="pab", budget=0.5), grpc.StatusCode.INVALID_ARGUMENT,
             "acceleration"),
            (_spec(acceleration="delta_dit"), grpc.StatusCode.INVALID_ARGUMENT, "45"),
        ]
        for spec, code, field in cases:
            with self.assertRaises(grpc.RpcError) as error:
                self.stub.SubmitJob(videogen_service_pb2.SubmitJobRequest(spec=spec))
            self.assertEqual(error.exception.code(), code, error.exception.details())
            self.assertIn(field, error.exception.details())
        # Larger than max_request_bytes (1 MiB).
        with self.assertRaises(grpc.RpcError) as error:
            self.stub.SubmitJob(videogen_service_pb2.SubmitJobRequest(
                spec=_spec(prompt="y" * (2 << 20))))
        self.assertEqual(error.exception.code(), grpc.StatusCode.RESOURCE_EXHAUSTED)
        # Bytes that are not a SubmitJobRequest.
        raw = self.server.channel.unary_unary(f"/{SERVICE}/SubmitJob",
                                              request_serializer=lambda b: b,
                                              response_deserializer=lambda b: b)
        with self.assertRaises(grpc.RpcError) as error:  # An empty request reaches the service.
            raw(b"")
        self.assertEqual(error.exception.code(), grpc.StatusCode.INVALID_ARGUMENT)
        with self.assertRaises(grpc.RpcError) as error:  # gRPC refuses what it cannot parse.
            raw(b"\xff\xff\xff\xff\x0f garbage")
        self.assertIn(error.exception.code(), (grpc.StatusCode.INTERNAL,
                                               grpc.StatusCode.INVALID_ARGUMENT,
                                               grpc.StatusCode.UNIMPLEMENTED))
        with self.assertRaises(grpc.RpcError) as error:
            self.stub.GetJob(videogen_service_pb2.GetJobRequest(job_id="f" * 32))
        self.assertEqual(error.exception.code(), grpc.StatusCode.NOT_FOUND)
        with self.assertRaises(grpc.RpcError) as error:
            self.stub.ListJobs(videogen_service_pb2.ListJobsRequest())
        self.assertEqual(error.exception.code(), grpc.StatusCode.UNAUTHENTICATED)
        # Still serving.
        self.stub.GetServerInfo(videogen_service_pb2.GetServerInfoRequest())

    def test_rapid_submits_against_a_small_queue_lose_nothing(self):
        accepted, codes = [], {}
        lock = threading.Lock()

        def submit(count):
            for _ in range(count):
                try:
                    job = self.stub.SubmitJob(
                        videogen_service_pb2.SubmitJobRequest(spec=_tiny_spec())).job
                    with lock:
                        accepted.append(job.id)
                except grpc.RpcError as error:
                    with lock:
                        codes[error.code()] = codes.get(error.code(), 0) + 1

        threads = [threading.Thread(target=submit, args=(125,)) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        self.assertEqual(len(accepted) + sum(codes.values()), 1000)
        self.assertEqual(set(codes), {grpc.StatusCode.RESOURCE_EXHAUSTED})
        for job_id in accepted:
            self.assertEqual(self.await_finished(job_id).state, video_job_pb2.JOB_STATE_SUCCEEDED)
        listed, token = set(), ""
        while True:
            page = self.stub.ListJobs(
                videogen_service_pb2.ListJobsRequest(page_size=100, page_token=token),
                metadata=self.admin())
            listed.update(job.id for job in page.jobs)
            token = page.next_page_token
            if not token:
                break
        self.assertTrue(set(accepted) <= listed)

    def test_many_concurrent_watchers_see_the_result(self):
        job = self.stub.SubmitJob(videogen_service_pb2.SubmitJobRequest(
            spec=_spec(steps=30))).job
        results = []

        def watch():
            events = list(self.stub.WatchJob(
                videogen_service_pb2.WatchJobRequest(job_id=job.id)))
            results.append(events[-1].result.state)

        threads = [threading.Thread(target=watch) for _ in range(32)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        self.assertEqual(results, [video_job_pb2.JOB_STATE_SUCCEEDED] * 32)

    def test_metrics_pass_promtool(self):
        events = list(self.stub.Generate(videogen_service_pb2.GenerateRequest(spec=_tiny_spec())))
        self.assertEqual(events[-1].result.state, video_job_pb2.JOB_STATE_SUCCEEDED)
        url = f"http://127.0.0.1:{self.server.metrics_port}/metrics"
        text = urllib.request.urlopen(url, timeout=10).read().decode()
        for name in ("videogen_queued_jobs", "videogen_running_jobs",
                     "videogen_jobs_finished_total", "videogen_job_stage_seconds",
                     "videogen_job_seconds", "videogen_job_tokens_computed_ratio",
                     "videogen_device_memory_peak_bytes", "videogen_job_submissions_total"):
            self.assertIn(f"# TYPE {name} ", text)
        check = subprocess.run([PROMTOOL, "check", "metrics"], input=text, text=True,
                               capture_output=True)
        self.assertEqual(check.returncode, 0, check.stdout + check.stderr)

    def test_load_reports_throughput_latency_and_memory(self):
        def round_trip(clients, jobs_per_client):
            latencies = []
            lock = threading.Lock()

            def client():
                for _ in range(jobs_per_client):
                    start = time.perf_counter()
                    while True:
                        try:
                            job = self.stub.SubmitJob(
                                videogen_service_pb2.SubmitJobRequest(spec=_tiny_spec())).job
                            break
                        except grpc.RpcError as error:  # Queue full: back off and retry.
                            self.assertEqual(error.code(), grpc.StatusCode.RESOURCE_EXHAUSTED)
                            time.sleep(0.05)
                    with lock:
                        latencies.append(time.perf_counter() - start)
                    self.await_finished(job.id)

            start = time.perf_counter()
            threads = [threading.Thread(target=client) for _ in range(clients)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            return time.perf_counter() - start, sorted(latencies)

        pid = self.server.process.pid
        round_trip(4, 2)  # Warm the allocator and the encoder.
        rss_before = _rss_kib(pid)
        seconds, latencies = round_trip(8, 5)
        rss_after = _rss_kib(pid)
        report = {
            "clients": 8, "jobs": len(latencies), "seconds": round(seconds, 3),
            "jobs_per_second": round(len(latencies) / seconds, 2),
            "submit_latency_p50_ms": round(1000 * statistics.median(latencies), 2),
            "submit_latency_p99_ms": round(1000 * latencies[int(0.99 * (len(latencies) - 1))], 2),
            "server_rss_before_kib": rss_before, "server_rss_after_kib": rss_after,
        }
        print("load:", json.dumps(report))
        outputs = os.environ.get("TEST_UNDECLARED_OUTPUTS_DIR")
        if outputs:
            with open(os.path.join(outputs, "load.json"), "w") as f:
                json.dump(report, f, indent=1)
        self.assertEqual(len(latencies), 40)
        # No growth beyond allocator noise after the warm-up round.
        self.assertLess(rss_after - rss_before, 64 * 1024, report)


class TlsTest(unittest.TestCase):

    def test_tls_serves_with_the_configured_certificate_only(self):
        work = tempfile.mkdtemp(dir=os.environ.get("TEST_TMPDIR"))
        cert, key = os.path.join(work, "cert.pem"), os.path.join(work, "key.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                        "-keyout", key, "-out", cert, "-subj", "/CN=localhost",
                        "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
                       check=True, capture_output=True)
        server = Server(os.path.join(work, "data"), tls=(cert, key))
        try:
            events = list(server.stub.Generate(
                videogen_service_pb2.GenerateRequest(spec=_tiny_spec())))
            self.assertEqual(events[-1].result.state, video_job_pb2.JOB_STATE_SUCCEEDED)
            plaintext = videogen_service_pb2_grpc.VideoGenerationStub(
                grpc.insecure_channel(server.address))
            with self.assertRaises(grpc.RpcError) as error:
                plaintext.GetServerInfo(videogen_service_pb2.GetServerInfoRequest(), timeout=5)
            self.assertEqual(error.exception.code(), grpc.StatusCode.UNAVAILABLE)
        finally:
            self.assertEqual(server.stop(), 0)


class RestartTest(unittest.TestCase):

    def test_sigterm_exits_zero_and_a_restart_keeps_finished_results(self):
        data_dir = tempfile.mkdtemp(dir=os.environ.get("TEST_TMPDIR"))
        server = Server(data_dir)
        events = list(server.stub.Generate(videogen_service_pb2.GenerateRequest(spec=_spec())))
        job = events[-1].result
        self.assertEqual(job.state, video_job_pb2.JOB_STATE_SUCCEEDED)
        queued = server.stub.SubmitJob(videogen_service_pb2.SubmitJobRequest(
            spec=_long_spec())).job
        self.assertEqual(server.stop(), 0)

        server = Server(data_dir)
        try:
            again = server.stub.GetJob(videogen_service_pb2.GetJobRequest(job_id=job.id)).job
            self.assertEqual(again.state, video_job_pb2.JOB_STATE_SUCCEEDED)
            data = b"".join(c.data for c in server.stub.FetchVideo(
                videogen_service_pb2.FetchVideoRequest(job_id=job.id)))
            self.assertEqual(hashlib.sha256(data).hexdigest(), job.output.sha256)
            # The job that was queued or running at the shutdown runs again after the restart.
            resumed = server.stub.GetJob(videogen_service_pb2.GetJobRequest(job_id=queued.id)).job
            self.assertIn(resumed.state, (video_job_pb2.JOB_STATE_QUEUED,
                                          video_job_pb2.JOB_STATE_RUNNING,
                                          video_job_pb2.JOB_STATE_SUCCEEDED))
            server.stub.CancelJob(videogen_service_pb2.CancelJobRequest(job_id=queued.id))
        finally:
            self.assertEqual(server.stop(), 0)


if __name__ == "__main__":
    SERVER_BINARY = os.path.abspath(sys.argv[1])
    PROMTOOL = sys.argv[2]
    _generate_stubs(tempfile.mkdtemp(dir=os.environ.get("TEST_TMPDIR")))
    from proto import grpc_health_v1_pb2, grpc_health_v1_pb2_grpc  # noqa: E402
    from proto import video_job_pb2, videogen_service_pb2, videogen_service_pb2_grpc  # noqa: E402
    unittest.main(argv=sys.argv[:1], verbosity=2)
