"""`hubtrain report`: report.png and a self-contained report.html from a real tiny run's scalars
and confusion matrices."""
import base64
import json

from hubtrain.cli import main as cli
from hubtrain.pipeline import run_pipeline, write_report
from hubtrain.pipeline.report import read_scalars
from pipeline_workspace import TRAIN_ENTRY, write_run_file

PNG = b"\x89PNG\r\n\x1a\n"


def test_report_of_a_real_run(tmp_path, tiny_bert_dir, capsys):
    entries = TRAIN_ENTRY + "  - {name: again, class: evaluate, phases: [test]}\n"
    context = run_pipeline(write_run_file(str(tmp_path / "ws"), tiny_bert_dir, entries))
    ckpt = tmp_path / "ws" / "ckpt"
    scalars = read_scalars(str(ckpt / "scalars.jsonl"))
    assert [s for s, _ in scalars["train/loss"]] == [2, 4, 6, 8]          # print_interval 2, 8 steps
    assert {"train/acc", "train/lr", "dev/loss", "dev/acc", "test/acc"} <= set(scalars)
    assert [s for s, _ in scalars["dev/acc"]] == [4, 8]                     # eval_interval 4

    assert cli(["report", str(ckpt)]) == 0
    png_path, html_path = ckpt / "report.png", ckpt / "report.html"
    assert f"wrote {png_path}" in capsys.readouterr().out
    png = png_path.read_bytes()
    assert png.startswith(PNG) and len(png) > 20_000
    page = html_path.read_text()
    inlined = page.split('src="data:image/png;base64,')[1].split('"')[0]
    assert base64.b64decode(inlined) == png                                # the same figure, inlined
    assert "http" not in page and "<script" not in page                    # nothing fetched, nothing run
    assert "Confusion matrix, dev" in page and "Confusion matrix, test" in page
    test_confusion = json.loads((ckpt / "confusion_test.json").read_text())
    assert sum(map(sum, test_confusion["matrix"])) == 24
    assert test_confusion["accuracy"] == context["results"][1]["test"]["acc"]
    assert page.count("<tr><td>") >= 2 + 2 + len(scalars)                 # entries, matrices, last values

    out = tmp_path / "elsewhere"
    assert write_report(str(ckpt), str(out)) == (str(out / "report.png"), str(out / "report.html"))


def test_scalars_of_a_resumed_run_keep_the_last_value_per_step(tmp_path):
    path = tmp_path / "scalars.jsonl"
    rows = [("train/loss", 2, 0.9), ("train/loss", 4, 0.8), ("train/loss", 4, 0.7), ("train/loss", 6, 0.6)]
    text = "".join(json.dumps({"tag": t, "step": s, "value": v}) + "\n" for t, s, v in rows)
    path.write_text(text + '{"tag": "train/loss", "st')                   # killed mid-line
    assert read_scalars(str(path)) == {"train/loss": [(2, 0.9), (4, 0.7), (6, 0.6)]}
    write_report(str(tmp_path))
    assert (tmp_path / "report.png").read_bytes().startswith(PNG)


def test_report_of_a_directory_without_records_exits_2(tmp_path, capsys):
    assert cli(["report", str(tmp_path)]) == 2
    assert "has no scalars.jsonl and no confusion_<phase>.json" in capsys.readouterr().err
    assert cli(["report", str(tmp_path / "missing")]) == 2
