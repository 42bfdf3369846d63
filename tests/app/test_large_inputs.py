"""Large inputs (issue 16): a packet too big for the PHY is refused with a
clear error before anything is sent, and long texts come from a file
(``--text-file``) through the real loopback."""

import json

import pytest

from tokencom_sdr.cli.main import main
from tokencom_sdr.cli.text_source import MAX_TEXT_FILE_BYTES
from tokencom_sdr.phy.modem import modulate
from tokencom_sdr.phy.phy_header import MAX_PAYLOAD_BYTES

# Modern English, varied enough to need many distinct tokens.
PARAGRAPH = ("The committee met on Tuesday to review the budget for the new library; after "
             "two hours of debate, it approved the plan with three amendments. ")


def _long_text(n_bytes: int) -> str:
    return (PARAGRAPH * (n_bytes // len(PARAGRAPH) + 1))[:n_bytes]


def _one_error_line(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert "Traceback" not in err
    lines = err.splitlines()
    assert len(lines) == 1, err
    return lines[0]


@pytest.mark.timeout(30)
def test_modulate_refuses_a_packet_too_big_for_the_phy():
    with pytest.raises(ValueError, match=rf"packet 1 is {MAX_PAYLOAD_BYTES + 1} bytes.*at most "
                                         rf"{MAX_PAYLOAD_BYTES}"):
        modulate([bytes(100), bytes(MAX_PAYLOAD_BYTES + 1)])
    # The largest packet the PHY carries still goes out whole.
    assert len(modulate([bytes(range(256)) * 5 + bytes(MAX_PAYLOAD_BYTES - 1280)])) > 0


@pytest.mark.timeout(60)
def test_loopback_with_packets_too_big_is_one_clear_error(capsys):
    """2000 tokens of 12 bits do not fit one 1500-byte packet: refused, no
    ZeroDivisionError, no silent drop."""
    code = main(["loopback", "--text", _long_text(20_000), "--packet-tokens", "2000"])
    assert code == 1
    line = _one_error_line(capsys)
    assert f"at most {MAX_PAYLOAD_BYTES} bytes" in line and "fewer tokens" in line


@pytest.mark.timeout(120)
def test_loopback_sends_a_text_file_exactly(tmp_path, capsys):
    text = _long_text(30_000)
    path = tmp_path / "long.txt"
    path.write_text(text, encoding="utf-8")
    out = tmp_path / "report.json"
    assert main(["loopback", "--text-file", str(path), "--snr", "25", "--json", str(out)]) == 0
    report = json.loads(out.read_text(encoding="utf-8"))
    assert report["packets_sent"] > 200
    assert report["received_text"] == text and report["exact"] is True


@pytest.mark.timeout(120)
def test_tx_loopback_sends_a_text_file(tmp_path, capsys):
    text = "A line of the file, then a second one.\nAnd a third, with accents: café, naïve.\n"
    path = tmp_path / "message.txt"
    path.write_text(text, encoding="utf-8")
    assert main(["tx", "--radio", "loopback", "--text-file", str(path)]) == 0
    assert "exact True" in capsys.readouterr().out


@pytest.mark.timeout(30)
@pytest.mark.parametrize("content, problem", [
    (None, "No such file"),
    (b"", "empty"),
    (b"caf\xe9 latin-1", "not UTF-8 (byte 3: e9)"),
    ("too big", "more than the"),
])
def test_bad_text_files_are_one_line_naming_the_file(tmp_path, capsys, content, problem):
    path = tmp_path / "message.txt"
    if content == "too big":
        with open(path, "wb") as file:  # sparse: no disk used
            file.truncate(MAX_TEXT_FILE_BYTES + 1)
    elif content is not None:
        path.write_bytes(content)
    for command in (["loopback"], ["tx", "--radio", "loopback"]):
        assert main(command + ["--text-file", str(path)]) == 1
        line = _one_error_line(capsys)
        assert str(path) in line and problem in line, line
