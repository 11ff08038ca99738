"""search_space.describe and search_space.presets command lines."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from search_space import PRESETS, describe
from search_space.presets.__main__ import main as presets_main

KEYS = {"arch", "ops", "fp_macs", "binary_macs", "params_fp", "params_binary", "size_bytes",
        "convention", "layers"}


def test_describe_json_for_mobilenet_v1(capsys):
    assert describe.main(["mobilenet_v1", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert set(data) >= KEYS
    assert isinstance(data["ops"], float) and isinstance(data["fp_macs"], int)
    assert data["fp_macs"] == pytest.approx(568.7e6, rel=0.002)
    assert data["params_fp"] + data["params_binary"] == pytest.approx(4.21e6, rel=0.005)
    assert data["macs_by_role"]["dw"] == pytest.approx(17.39e6, rel=0.001)
    assert data["macs_by_role"]["pw"] == pytest.approx(539.49e6, rel=0.001)
    assert data["convention"] == "bireal" and data["preset"] == "mobilenet_v1"
    assert {"name", "role", "binary", "macs", "ops", "params"} <= set(data["layers"][0])


def test_describe_string_and_json_file_and_options(tmp_path, capsys):
    arch = PRESETS["mobinet_mid_k3_prelu"].arch
    assert describe.main([arch.encode(), "--json", "--convention", "with-bn"]) == 0
    from_string = json.loads(capsys.readouterr().out)
    path = tmp_path / "a.json"
    path.write_text(arch.to_json())
    assert describe.main([str(path), "--json", "--convention", "with-bn"]) == 0
    from_file = json.loads(capsys.readouterr().out)
    assert from_string["ops"] == from_file["ops"] and from_file["convention"] == "with-bn"
    assert describe.main([str(path), "--resolution", "32", "--num-classes", "10", "--layers"]) == 0
    text = capsys.readouterr().out
    assert "32x32, 10 classes" in text and "MACs" in text


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["no_such_preset"], "no_such_preset"),
        (["w1.0-d1:L-none-k9-relu-pw"], "k"),
        (["w1.0-d1:L-none-k0-relu-pw:oops"], "stage"),
        (["missing_file.json"], "missing_file.json"),
        (["mobilenet_v1", "--resolution", "2"], "--resolution"),
        (["mobilenet_v1", "--num-classes", "0"], "--num-classes"),
    ],
)
def test_describe_bad_input_is_one_line_exit_2(args, needle, capsys):
    assert describe.main(args) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and needle in err and "Traceback" not in err


@pytest.mark.parametrize("content", ["[1, 2, 3]", '{"stages": [', "", '{"width": 1.0}'])
def test_describe_bad_json_file(tmp_path, content, capsys):
    path = tmp_path / "bad.json"
    path.write_text(content)
    assert describe.main([str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert path.read_text() == content  # never touched


def test_presets_lists_every_preset(capsys):
    assert presets_main(["--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["name"] for r in rows] == list(PRESETS)
    v1 = next(r for r in rows if r["name"] == "mobilenet_v1")
    assert v1["ops"] == pytest.approx(568.7e6, rel=0.002)
    assert presets_main([]) == 0
    assert "bin_mobilenet_sp" in capsys.readouterr().out


def test_module_entry_point_exit_code():
    proc = subprocess.run([sys.executable, "-m", "search_space.describe", "nope"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and "nope" in proc.stderr


def test_check_out_folder_creates_nothing_and_names_the_problem(tmp_path, unwritable_dir):
    from search_space.cli import check_out_folder

    check_out_folder(tmp_path / "a" / "b")  # can be created
    check_out_folder(tmp_path)  # exists, writable
    assert not (tmp_path / "a").exists()
    afile = tmp_path / "f"
    afile.write_text("x")
    with pytest.raises(ValueError, match=r"--out: '.*f' exists and is not a folder"):
        check_out_folder(afile)
    with pytest.raises(ValueError, match=r"OUT: cannot create '.*f/g' \('.*f' is a file\)"):
        check_out_folder(afile / "g", "OUT")
    with pytest.raises(ValueError, match="is not writable"):
        check_out_folder(unwritable_dir / "x" / "y")
    assert afile.read_text() == "x"
    (tmp_path / "dangling").symlink_to(tmp_path / "gone")
    with pytest.raises(ValueError, match=r"--out: '.*dangling' is a symbolic link to nothing"):
        check_out_folder(tmp_path / "dangling")
    with pytest.raises(ValueError, match=r"--out: '.*dangling' is a symbolic link to nothing"):
        check_out_folder(tmp_path / "dangling" / "run")


def test_check_out_folder_in_a_folder_we_may_not_look_into(tmp_path, monkeypatch):
    """Path.exists raises PermissionError under a folder without search permission (as a
    non-root user): one clear line, not a traceback."""
    import pathlib

    from search_space.cli import check_out_folder

    real = pathlib.Path.exists

    def exists(self, *a, **k):
        if str(self).startswith(str(tmp_path / "locked") + "/"):
            raise PermissionError(13, "Permission denied")
        return real(self, *a, **k)

    monkeypatch.setattr(pathlib.Path, "exists", exists)
    with pytest.raises(ValueError, match=r"--out: cannot use '.*locked/run' \(Permission denied\)"):
        check_out_folder(tmp_path / "locked" / "run")


def test_a_broken_pipe_that_is_not_stdout_is_a_real_error(tmp_path):
    code = ("from search_space.cli import run_cli\n"
            "def main(argv):\n    raise BrokenPipeError(32, 'Broken pipe')\n"
            "raise SystemExit(run_cli(main))\n")
    with open(tmp_path / "out.txt", "w") as out:
        r = subprocess.run([sys.executable, "-c", code], stdout=out, stderr=subprocess.PIPE, text=True, timeout=120)
    assert r.returncode == 1 and "BrokenPipeError" in r.stderr  # not swallowed as if `| head` had closed


@pytest.mark.slow
def test_output_into_a_closed_pipe_is_quiet():
    """`python -m search_space.presets | head -1`: no BrokenPipeError traceback."""
    r = subprocess.run(f"{sys.executable} -m search_space.presets | head -c 10", shell=True, capture_output=True,
                       text=True, timeout=120)
    assert r.stdout and r.stderr == ""


def test_kill_int_stops_a_command_that_inherited_sigint_ignored():
    """As a script's background job (`cmd &`) does: SIGINT arrives ignored, and still stops it."""
    import signal
    import subprocess
    import sys

    code = ("import signal, sys, time\n"
            "from search_space.cli import run_cli\n"
            "assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN\n"
            "def main(argv):\n"
            "    print('ready', flush=True)\n"
            "    while True:\n"
            "        time.sleep(0.05)\n"
            "sys.exit(run_cli(main, []))\n")
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
    assert proc.stdout.readline() == "ready\n"
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=600)
    assert proc.returncode == 130 and "interrupted" in err, err
