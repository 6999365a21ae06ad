"""`carebot ask --jsonl`: one process, one answer line per request line, bad lines answered
with an error object and the rest going on (issue 11's batch mode)."""
from __future__ import annotations

import json
import subprocess
import sys


def ask(args: list[str], stdin: str = "", timeout: float = 180) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "carebot.cli", "ask", *args], input=stdin, text=True,
                          capture_output=True, timeout=timeout)


def test_batch_from_standard_input_keeps_order_and_survives_bad_lines():
    lines = [json.dumps({"text": "my chest hurts", "person": "room_101"}), "not json",
             json.dumps({"text": "我不舒服", "site": "public_hall"}), json.dumps({"text": 5}),
             json.dumps({"text": "where is the lounge?", "site": "mars"}), "",
             json.dumps({"text": "Stop, you are blocking the door"}), json.dumps(["a list"])]
    out = ask(["--backend", "none", "--no-embeddings", "--jsonl", "-"], "\n".join(lines) + "\n")
    assert out.returncode == 0, out.stderr
    answers = [json.loads(line) for line in out.stdout.splitlines()]
    assert len(answers) == 7                                     # the empty line is skipped
    assert answers[0]["alert"]["kind"] == "MEDICAL" and answers[0]["alert"]["severity"] == "CRITICAL"
    assert answers[0]["alert"]["person"] == "room_101" and answers[0]["source"] == "rule"
    assert answers[1] == {"error": answers[1]["error"], "line": 2}
    assert answers[2]["alert"]["kind"] == "MEDICAL" and "工作人员" in answers[2]["reply"]
    assert "text" in answers[3]["error"] and "mars" in answers[4]["error"]
    assert answers[5]["actions"][0]["tool"] == "stop"
    assert answers[6]["line"] == 8 and "object" in answers[6]["error"]
    assert "3 bad line" in out.stderr or "4 bad line" in out.stderr


def test_batch_from_a_file_and_the_single_question_form_agree(tmp_path):
    path = tmp_path / "in.jsonl"
    path.write_text(json.dumps({"text": "there's a fire in the kitchen"}) + "\n", encoding="utf-8")
    batch = ask(["--backend", "none", "--no-embeddings", "--jsonl", str(path)])
    single = ask(["--backend", "none", "--no-embeddings", "there's a fire in the kitchen"])
    assert batch.returncode == single.returncode == 0, batch.stderr + single.stderr
    a, b = json.loads(batch.stdout), json.loads(single.stdout)
    assert a["alert"]["kind"] == b["alert"]["kind"] == "FIRE" and a["reply"] == b["reply"]


def test_missing_file_and_both_forms_are_clear_errors(tmp_path):
    missing = ask(["--backend", "none", "--jsonl", str(tmp_path / "nope.jsonl")])
    assert missing.returncode == 2 and "nope.jsonl" in missing.stderr
    both = ask(["--backend", "none", "--jsonl", "-", "hello"])
    assert both.returncode == 2 and "not both" in both.stderr
