"""The README's Python API example runs as written, and its defaults are the CLI's."""

import os
import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[2] / "README.md"


@pytest.mark.timeout(120)
def test_readme_python_api_example_runs(tmp_path, capsys):
    section = README.read_text(encoding="utf-8").split("### Python API", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    assert len([line for line in code.splitlines() if line.strip()]) <= 6
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        exec(compile(code, "README.md", "exec"), {})
    finally:
        os.chdir(cwd)
    printed = capsys.readouterr().out
    assert " -> " in printed and "Meet me" in printed.split(" -> ")[1]
    assert (tmp_path / "astronaut_rx.png").stat().st_size > 1000


def test_api_recovery_defaults_are_the_clis():
    import tokencom_sdr as tc
    from tokencom_sdr.cli.main import build_parser
    from tokencom_sdr.cli.rx import recovery_modes

    receiver = tc.TokenReceiver()
    assert (receiver.text_recovery, receiver.image_recovery) == recovery_modes(None)
    args = build_parser().parse_args(["loopback", "--text", "x"])
    assert args.text_recovery == receiver.text_recovery
    assert build_parser().parse_args(["loopback", "--image", "x"]).recovery == \
        receiver.image_recovery
