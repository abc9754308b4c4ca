"""The chunked-upload command: exit statuses, --json, progress, kill and resume."""

from __future__ import annotations

import fcntl
import json
import os
import pty
import select
import signal
import struct
import subprocess
import sys
import termios
import time

import pytest

from tests.integrity.site import DemoSite

from .helpers import CHUNK, MiB, assert_ledger_contiguous, make_file, sha256, stored_sha256


def test_upload_and_download_with_json(site, cli, folder, tmp_path):
    one, two = tmp_path / "one.bin", tmp_path / "two.bin"
    digests = [make_file(one, CHUNK + 1), make_file(two, 0)]

    up = cli.run("upload", str(one), str(two), "--to", f"{folder}/", "--json",
                 "--chunk-size", "256KiB", "--comment", "from the CLI")
    assert up.returncode == 0, up.stderr
    answer = json.loads(up.stdout)
    assert answer["ok"] is True
    assert [u["path"] for u in answer["uploads"]] == [f"{folder}/one.bin", f"{folder}/two.bin"]
    for upload, digest in zip(answer["uploads"], digests, strict=True):
        assert stored_sha256(site, upload["version_id"]) == digest

    down = cli.run("download", f"{folder}/one.bin", str(tmp_path / "back.bin"), "--json")
    assert down.returncode == 0, down.stderr
    assert json.loads(down.stdout)["download"]["size"] == CHUNK + 1
    assert sha256(tmp_path / "back.bin") == digests[0]
    by_id = cli.run("download", str(answer["uploads"][1]["document_id"]), str(tmp_path))
    assert by_id.returncode == 0, by_id.stderr
    assert (tmp_path / "two.bin").read_bytes() == b""


def test_failures_exit_non_zero_with_one_line(cli, folder, tmp_path):
    missing = cli.run("download", f"{folder}/nothing.bin", "--json")
    assert missing.returncode == 1
    assert missing.stderr.strip().count("\n") == 0
    assert "Document not found." in missing.stderr
    assert json.loads(missing.stdout) == {"ok": False, "error": missing.stderr.strip()
                                          .removeprefix("chunked-upload: error: ")}

    wrong = cli.run("status", "--url", "x")  # status needs no server
    assert wrong.returncode == 0
    bad_password = cli.run("download", "/x", env={"CHUNKED_UPLOAD_PASSWORD": "wrong"})
    assert bad_password.returncode == 1
    assert "[900] Authentication failed" in bad_password.stderr
    no_password = cli.run("download", "/x", env={"CHUNKED_UPLOAD_PASSWORD": ""})
    assert no_password.returncode == 1
    env = {k: v for k, v in cli.env.items() if k != "CHUNKED_UPLOAD_PASSWORD"}
    unprompted = subprocess.run(cli.command("download", "/x"), env=env, capture_output=True,
                                text=True, stdin=subprocess.DEVNULL, timeout=60)
    assert unprompted.returncode == 2
    assert "CHUNKED_UPLOAD_PASSWORD" in unprompted.stderr
    no_file = cli.run("upload", str(tmp_path / "absent.bin"), "--to", f"{folder}/")
    assert no_file.returncode == 1
    assert "absent.bin" in no_file.stderr
    usage = cli.run("upload", "--to", "/x/")
    assert usage.returncode == 2


def test_plain_progress_lines_when_not_a_terminal(cli, folder, tmp_path):
    source = tmp_path / "plain.bin"
    make_file(source, 3 * CHUNK)
    done = cli.run("upload", str(source), "--to", f"{folder}/", "--chunk-size", "256KiB")
    assert done.returncode == 0, done.stderr
    assert "plain.bin: 100% 768.0 KiB of 768.0 KiB" in done.stderr
    assert "\r" not in done.stderr
    assert f"-> {folder}/plain.bin (document " in done.stdout


def test_a_progress_bar_in_a_terminal(cli, folder, tmp_path):
    source = tmp_path / "bar.bin"
    make_file(source, 8 * CHUNK)
    output = run_in_pty(cli.command("upload", str(source), "--to", f"{folder}/",
                                    "--chunk-size", "256KiB"), cli.env, cli.cwd)
    assert "\r" in output  # redrawn in place
    assert "bar.bin: 100%" in output
    assert "2.00M/2.00M" in output  # tqdm's size column
    assert "B/s" in output


@pytest.mark.parametrize("how", [signal.SIGKILL, signal.SIGINT], ids=["SIGKILL", "Ctrl-C"])
def test_the_client_killed_mid_upload_then_resumed(site: DemoSite, cli, folder, tmp_path, how):
    source = tmp_path / "killed.bin"
    size = 24 * MiB + 1
    digest = make_file(source, size)
    process = cli.start("upload", str(source), "--to", f"{folder}/", "--chunk-size", "256KiB")
    state_dir = tmp_path / "state"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        states = [json.loads(p.read_text()) for p in state_dir.glob("*.json")] \
            if state_dir.is_dir() else []
        if states and states[0]["offset"] >= 4 * MiB:
            break
        time.sleep(0.02)
    process.send_signal(how)
    _, stderr = process.communicate(timeout=60)
    if how == signal.SIGINT:
        assert process.returncode == 130
        assert stderr.strip().splitlines()[-1] == "chunked-upload: error: interrupted"
    [state] = [json.loads(p.read_text()) for p in state_dir.glob("*.json")]
    assert 0 < state["offset"] < size

    status = cli.run("status", "--json")
    assert json.loads(status.stdout)["uploads"][0]["handler"] == state["handler"]
    resumed = cli.run("resume", "--json")
    assert resumed.returncode == 0, resumed.stderr
    [upload] = json.loads(resumed.stdout)["uploads"]
    assert upload["resumed_at"] >= state["offset"]
    assert upload["handler"] == state["handler"]
    assert stored_sha256(site, upload["version_id"]) == digest
    assert_ledger_contiguous(site, state["handler"], size)
    assert list(state_dir.glob("*.json")) == []
    assert cli.run("resume").stdout.strip() == "nothing to resume"


def run_in_pty(command: list[str], env: dict[str, str], cwd, timeout: float = 120) -> str:
    """Run ``command`` with stdout and stderr on a pseudo-terminal; what it wrote."""
    parent, child = pty.openpty()
    # A terminal of 24 x 100 (a fresh pty is 0 x 0, where a bar has no room).
    fcntl.ioctl(child, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
    process = subprocess.Popen(command, env=env, cwd=cwd,
                               stdin=subprocess.DEVNULL, stdout=child, stderr=child)
    os.close(child)
    output, deadline = bytearray(), time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([parent], [], [], 0.5)
        if ready:
            try:
                data = os.read(parent, 1 << 16)
            except OSError:  # EIO: the child closed the terminal
                break
            if not data:
                break
            output += data
        elif process.poll() is not None:
            break
    process.wait(timeout)
    os.close(parent)
    assert process.returncode == 0, output.decode(errors="replace")
    return output.decode(errors="replace")


def test_the_module_and_the_console_script_are_the_same_command():
    script = os.path.join(os.path.dirname(sys.executable), "chunked-upload")
    for command in ([sys.executable, "-m", "chunked_upload.client", "--help"], [script, "--help"]):
        done = subprocess.run(command, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0
        assert "upload" in done.stdout and "resume" in done.stdout
