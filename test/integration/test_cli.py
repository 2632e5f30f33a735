"""The command line: --version, --help, validate, fmt, and a failing initial load."""
import os
import shutil
import tempfile
import unittest

import harness
from harness import run_cli


def seed_path():
    return os.path.join(harness.ARGS.source_dir, "test/testdata/seed/config.alloy")


class CliTest(unittest.TestCase):
    def test_version_and_help(self):
        r = run_cli("--version")
        self.assertEqual(r.returncode, 0)
        self.assertIn("telegate version v", r.stdout)
        r = run_cli("--help")
        self.assertEqual(r.returncode, 0)
        for word in ("run", "fmt", "validate"):
            self.assertIn(word, r.stdout)
        r = run_cli("run", "--help")
        self.assertIn("--server.http.listen-addr", r.stdout)
        self.assertIn("--storage.path", r.stdout)

    def test_validate_seed_with_token(self):
        r = run_cli("validate", seed_path(), env={"ALLOY_RECEIVER_TOKEN": "your-secret-token-12345"})
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("configuration is valid", r.stderr)
        self.assertIn("deprecated", r.stderr)  # env() is deprecated in favour of sys.env()

    def test_validate_seed_without_token_fails_closed(self):
        env = dict(os.environ)
        env.pop("ALLOY_RECEIVER_TOKEN", None)
        r = run_cli("validate", seed_path(), env={"ALLOY_RECEIVER_TOKEN": ""})
        self.assertEqual(r.returncode, 1)
        self.assertIn("token must not be empty", r.stderr)
        self.assertRegex(r.stderr, r"config\.alloy:\d+:\d+: ")

    def test_validate_reports_position_excerpt_and_caret(self):
        d = tempfile.mkdtemp()
        p = os.path.join(d, "bad.alloy")
        with open(p, "w") as f:
            f.write('logging {\n  level = "info"\n}\n\notelcol.receiver.zipkin "z" { }\n')
        r = run_cli("validate", p)
        self.assertEqual(r.returncode, 1)
        self.assertIn(f"Error: {p}:5:1: cannot find the definition of component name "
                      '"otelcol.receiver.zipkin"', r.stderr)
        self.assertIn(" | ", r.stderr)
        self.assertIn("^", r.stderr)

    def test_fmt_is_stable_and_write_rewrites(self):
        r1 = run_cli("fmt", seed_path())
        self.assertEqual(r1.returncode, 0, r1.stderr)
        r2 = run_cli("fmt", "-", stdin=r1.stdout)
        self.assertEqual(r2.returncode, 0, r2.stderr)
        self.assertEqual(r1.stdout, r2.stdout)
        d = tempfile.mkdtemp()
        p = os.path.join(d, "c.alloy")
        shutil.copy(seed_path(), p)
        self.assertEqual(run_cli("fmt", "--write", p).returncode, 0)
        with open(p) as f:
            self.assertEqual(f.read(), r1.stdout)

    def test_fmt_rejects_syntax_errors(self):
        r = run_cli("fmt", "-", stdin="logging {\n  level = 'info'\n}\n")
        self.assertEqual(r.returncode, 1)
        self.assertIn("illegal single-quoted string", r.stderr)

    def test_run_with_broken_config_exits(self):
        d = tempfile.mkdtemp()
        p = os.path.join(d, "bad.alloy")
        with open(p, "w") as f:
            f.write('otelcol.auth.bearer "t" {\n  tokn = "x"\n}\n')
        port = harness.free_port()
        r = run_cli("run", p, f"--server.http.listen-addr=127.0.0.1:{port}",
                    f"--storage.path={d}/data", timeout=30)
        self.assertEqual(r.returncode, 1)
        self.assertIn("could not perform the initial load successfully", r.stderr)
        self.assertIn('unrecognized attribute name "tokn"', r.stderr)


if __name__ == "__main__":
    harness.main()
