"""Node-local pod logs, the DaemonSet way, in the real binary:

  CRI files under <tmp>/var/log/pods/<ns>_<pod>_<uid>/<container>/0.log
    -> loki.source.file (file_match glob) -> loki.process (stage.cri) -> loki.write -> fake Loki

Checks labels (filename, job, stream), CRI timestamps, partial-line reassembly, resuming after a
restart without duplicates (positions under --storage.path), and log rotation. Loopback only;
every process is stopped in tearDown."""
import os
import shutil
import tempfile
import time
import unittest

import fakes
import harness
from harness import Telegate, wait_for
from test_seed_pipeline import decode_loki


def cri(ts, stream, flag, text):
    return f"{ts} {stream} {flag} {text}\n"


class FileLogsTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="telegate-files-")
        self.pods = os.path.join(self.tmp, "var/log/pods")
        self.dir = os.path.join(self.pods, "shop_web-1_0a1b2c3d", "app")
        os.makedirs(self.dir)
        self.file = os.path.join(self.dir, "0.log")
        self.storage = tempfile.mkdtemp(prefix="telegate-files-storage-")
        self.loki = fakes.HttpBackend(decode_loki, name="loki")
        self.cfg = os.path.join(self.tmp, "config.alloy")
        with open(self.cfg, "w") as f:
            f.write(f"""
loki.source.file "pods" {{
  targets = [{{"__path__" = "{self.pods}/*/*/*.log", "job" = "pod-logs"}}]
  file_match {{
    enabled     = true
    sync_period = "200ms"
  }}
  file_watch {{
    min_poll_frequency = "50ms"
  }}
  forward_to = [loki.process.cri.receiver]
}}

loki.process "cri" {{
  stage.cri {{}}
  stage.static_labels {{
    values = {{ cluster = "test" }}
  }}
  forward_to = [loki.write.loki.receiver]
}}

loki.write "loki" {{
  endpoint {{
    url        = "http://127.0.0.1:{self.loki.port}/loki/api/v1/push"
    batch_wait = "100ms"
  }}
}}
""")
        self.t = None

    def tearDown(self):
        if self.t:
            self.t.close()
        self.loki.close()
        shutil.rmtree(self.tmp, ignore_errors=True)
        shutil.rmtree(self.storage, ignore_errors=True)

    def start(self):
        self.t = Telegate(self.cfg, storage=self.storage)
        self.t.wait_ready()

    def write(self, text):
        with open(self.file, "a") as f:
            f.write(text)

    def lines(self):
        out = []
        for push in self.loki.snapshot():
            for labels, entries in push:
                for ts, line in entries:
                    out.append((labels, ts, line))
        return out

    def diag(self):
        return (self.t.output() if self.t else "") + "\nerrors: " + repr(self.loki.errors)

    def test_cri_files_to_loki(self):
        self.write(cri("2024-05-01T10:00:00.000000001Z", "stdout", "F", "hello"))
        self.write(cri("2024-05-01T10:00:01Z", "stderr", "P", "a long line, "))
        self.write(cri("2024-05-01T10:00:01.5Z", "stderr", "P", "in three "))
        self.write(cri("2024-05-01T10:00:02Z", "stderr", "F", "pieces"))
        self.start()
        self.assertTrue(wait_for(lambda: len(self.lines()) >= 2, timeout=15), self.diag())
        got = self.lines()
        self.assertEqual([l for _, _, l in got], ["hello", "a long line, in three pieces"])
        labels0, ts0, _ = got[0]
        self.assertEqual(ts0, 1714557600000000001)
        self.assertEqual(
            labels0,
            f'{{cluster="test", filename="{self.file}", job="pod-logs", stream="stdout"}}')
        self.assertIn('stream="stderr"', got[1][0])
        self.assertEqual(got[1][1], 1714557602000000000)

        # Restart: positions survive, nothing is sent twice, new lines arrive.
        self.assertEqual(self.t.close(), 0)
        self.t = None
        self.write(cri("2024-05-01T10:00:03Z", "stdout", "F", "after restart"))
        self.start()
        self.assertTrue(wait_for(lambda: len(self.lines()) >= 3, timeout=15), self.diag())
        time.sleep(0.5)
        self.assertEqual([l for _, _, l in self.lines()],
                         ["hello", "a long line, in three pieces", "after restart"])

        # Rotation: the kubelet renames the file and starts a new one.
        self.write(cri("2024-05-01T10:00:04Z", "stdout", "F", "last of old file"))
        os.rename(self.file, self.file + ".20240501-100005")
        self.write(cri("2024-05-01T10:00:05Z", "stdout", "F", "first of new file"))
        self.assertTrue(wait_for(lambda: len(self.lines()) >= 5, timeout=15), self.diag())
        self.assertEqual([l for _, _, l in self.lines()][3:],
                         ["last of old file", "first of new file"])

        # A second pod appears and is discovered by the glob.
        other = os.path.join(self.pods, "shop_web-2_ffff", "app")
        os.makedirs(other)
        with open(os.path.join(other, "0.log"), "w") as f:
            f.write(cri("2024-05-01T10:00:06Z", "stdout", "F", "second pod"))
        self.assertTrue(wait_for(lambda: len(self.lines()) >= 6, timeout=15), self.diag())
        self.assertIn("web-2", self.lines()[-1][0])
        _, _, metrics = self.t.get("/metrics")
        self.assertRegex(metrics, r'telegate_loki_source_file_read_lines_total\{component_id="loki.source.file.pods"\} [1-9]')


if __name__ == "__main__":
    harness.main()
