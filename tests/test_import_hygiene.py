"""`import hubtrain` changes nothing outside hubtrain: no paddle import, no logger handler, no
subprocess; its public names still resolve (on first use); `hubtrain --help` answers at once."""
import json
import os
import shutil
import subprocess
import sys
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def _python(code, **env):
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=ROOT,
                         env=dict(os.environ, **env))
    assert run.returncode == 0, run.stderr[-3000:]
    return run


def test_the_command_line_module_does_not_import_paddle():
    run = subprocess.run([sys.executable, "-X", "importtime", "-c", "import hubtrain.cli, hubtrain.commands"],
                         capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert run.returncode == 0, run.stderr
    imported = {line.rsplit("|", 1)[-1].strip() for line in run.stderr.splitlines() if line.startswith("import time:")}
    assert "hubtrain.cli" in imported and "hubtrain.commands.export" in imported
    assert not {name for name in imported if name.split(".")[0] in ("paddle", "paddlenlp", "numpy")}


@pytest.mark.parametrize("command", [[], ["predict"], ["export"], ["train"]])
def test_help_answers_in_under_half_a_second(command):
    hubtrain = shutil.which("hubtrain")
    argv = [hubtrain] if hubtrain else [sys.executable, "-m", "hubtrain"]
    times = []
    for _ in range(3):
        start = time.perf_counter()
        run = subprocess.run(argv + command + ["--help"], capture_output=True, text=True, timeout=60)
        times.append(time.perf_counter() - start)
        assert run.returncode == 0 and run.stdout.startswith("usage: hubtrain"), run.stderr
    assert min(times) < 0.5, times


_WATCH = """
import json, logging, sys, sysconfig, traceback
started = []
STDLIB = sysconfig.get_paths()["stdlib"]
PACKAGES = (sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"])
def hook(event, args):
    if event in ("subprocess.Popen", "os.posix_spawn", "os.exec", "os.fork", "os.system", "os.spawn"):
        # the caller: the innermost frame outside the standard library (ctypes.util, subprocess, ...)
        files = [f.filename for f in traceback.extract_stack()[:-1]
                 if f.filename.startswith(PACKAGES) or not f.filename.startswith((STDLIB, "<frozen"))]
        started.append({"event": event, "ours": bool(files) and "/hubtrain/" in files[-1]})
sys.addaudithook(hook)
def loggers():
    found = {"": (len(logging.root.handlers), True)}
    for name, item in logging.Logger.manager.loggerDict.items():
        if isinstance(item, logging.Logger):
            found[name] = (len(item.handlers), item.propagate)
    return found
before = loggers()
import hubtrain as hub
after_import = loggers()
modules = sorted(m for m in sys.modules if m.split(".")[0] in ("paddle", "paddlenlp"))
for name in FORCE:
    getattr(hub, name)
hub_logger = logging.getLogger("hubtrain")
print(json.dumps({"changed": before != after_import, "modules": modules, "started": started,
                  "hub_handlers": len(hub_logger.handlers), "hub_propagate": hub_logger.propagate}))
"""


def test_import_hubtrain_starts_no_process_adds_no_handler_and_imports_no_paddle():
    report = json.loads(_python("FORCE = []\n" + _WATCH).stdout.splitlines()[-1])
    assert report == {"changed": False, "modules": [], "started": [], "hub_handlers": 0, "hub_propagate": True}


def test_every_public_name_loads_without_hubtrain_starting_a_process_or_adding_a_handler():
    import hubtrain

    report = json.loads(_python(f"FORCE = {hubtrain.__all__!r}\n" + _WATCH).stdout.splitlines()[-1])
    # paddle's own import starts a few shell commands; none may come from hubtrain's modules
    assert [s for s in report["started"] if s["ours"]] == []
    assert (report["hub_handlers"], report["hub_propagate"]) == (0, True)


def test_public_names_resolve_lazily_and_dir_lists_them():
    import hubtrain as hub

    assert hub.__version__ and set(hub.__all__) <= set(dir(hub))
    for name in hub.__all__:
        assert getattr(hub, name) is not None, name
    assert hub.RunConfig.__module__ == "hubtrain.config" and hub.zoo.__name__ == "hubtrain.zoo"
    from hubtrain import BaseTask, Predictor  # noqa: F401 - the from-import form works too
    with pytest.raises(AttributeError, match="no attribute 'NoSuchName'"):
        hub.NoSuchName  # noqa: B018


def test_the_export_commands_opset_default_is_the_converters():
    from hubtrain.commands.export import _OPSET
    from hubtrain.export.onnx import DEFAULT_OPSET

    assert _OPSET == DEFAULT_OPSET


def test_a_plain_script_shows_each_log_line_once_on_stdout():
    """No logging configured by the program: the first line installs hubtrain's handler (paddle's
    own root handler would otherwise print it again, on stderr)."""
    code = ("import hubtrain as hub\nhub.RunConfig\nfrom hubtrain.engine.report import log\n"
            "log('INFO', 'first line')\nlog('WARNING', 'second line', level=30)\n")
    run = _python(code, HUBTRAIN_LOG_LEVEL="INFO")
    assert run.stdout.count("[    INFO] - first line") == 1 and run.stdout.count("[ WARNING] - second line") == 1
    assert "first line" not in run.stderr and "second line" not in run.stderr


def test_a_program_that_configures_logging_gets_the_records():
    code = ("import logging, sys\nlogging.basicConfig(stream=sys.stderr, level=logging.INFO, force=True,\n"
            "                    format='%(name)s|%(levelname)s|%(message)s')\n"
            "from hubtrain.engine.report import log\nlog('INFO', 'to the program')\n")
    run = _python(code)
    assert "hubtrain|INFO|to the program" in run.stderr and "to the program" not in run.stdout
