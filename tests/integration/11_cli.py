#!/usr/bin/python3
"""The command line: --version, --help, --check-config, configuration errors with
file:line:column, -p and --listen."""
import os
import resource
import subprocess
import tempfile

from harness import *


def run(*args):
    return subprocess.run([outpost_bin(), *args], capture_output=True, text=True, timeout=20)


class Cli(unittest.TestCase):
    def test_version(self):
        r = run("--version")
        self.assertEqual(r.returncode, 0)
        self.assertRegex(r.stdout, r"^outpost \d+\.\d+\.\d+")

    def test_help(self):
        r = run("--help")
        self.assertEqual(r.returncode, 0)
        for opt in ("--config", "--check-config", "--listen", "--port", "--data-dir"):
            self.assertIn(opt, r.stdout)

    def test_check_shipped_config(self):
        r = run("--check-config", "-c", os.path.join(ROOT, "config", "outpost.yaml"))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("configuration OK", r.stdout)

    def test_bad_config_names_position(self):
        with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as f:
            f.write("threads: 1\nmqtt:\n  max_inflight: 10\n  max_inflihgt: 5\n")
            path = f.name
        try:
            r = run("--check-config", "-c", path)
            self.assertNotEqual(r.returncode, 0)
            self.assertIn(f"{path}:4:3:", r.stderr)
            self.assertIn("max_inflihgt", r.stderr)
        finally:
            os.unlink(path)

    def test_bad_value_names_position(self):
        with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as f:
            f.write("listeners:\n  - protocol: mqtt\n    port: abc\n")
            path = f.name
        try:
            r = run("-c", path)
            self.assertEqual(r.returncode, 1)
            self.assertIn(f"{path}:3:11:", r.stderr)
        finally:
            os.unlink(path)

    def test_open_file_limit_raised(self):
        """Each connection holds a file descriptor: a low soft limit (a shell's 1024) is
        raised to the hard limit at start, and the start line says which limit holds."""
        hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
        hard_text = "unlimited" if hard == resource.RLIM_INFINITY else str(hard)

        class Limited(Broker):
            def command(self):
                return ["prlimit", f"--nofile=256:{hard_text}", "--"] + super().command()

        with Limited() as b:
            with open(f"/proc/{b.proc.pid}/limits") as f:
                row = next(line for line in f if line.startswith("Max open files"))
            self.assertEqual(row.split()[3], hard_text, row)
            self.assertTrue(b.wait_for_log(f"open-file limit {hard_text}"), b.log_text())

    def test_unknown_option(self):
        r = run("--no-such-option")
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("--help", r.stderr)

    def test_bad_listen_url(self):
        r = run("--listen", "foo://1.2.3.4:1")
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("foo://1.2.3.4:1", r.stderr)

    def test_port_flag_and_listen(self):
        p1, p2 = free_port(), free_port()
        with Broker(args=["--listen", f"mqtt://127.0.0.1:{p2}"], port=p1) as b:
            self.assertTrue(wait_for_port(p2))
            c = RawClient(p1)
            self.assertEqual(c.connect("cli-p")[1], 0)
            c.close()
            c = RawClient(p2)
            self.assertEqual(c.connect("cli-listen")[1], 0)
            c.close()

    def test_port_in_use_is_a_clear_error(self):
        with Broker() as b:
            r = run("-p", str(b.port), "--data-dir", b.data_dir + "2")
            self.assertEqual(r.returncode, 1)
            self.assertIn(f"127.0.0.1:{b.port}", r.stderr)


if __name__ == "__main__":
    main()
