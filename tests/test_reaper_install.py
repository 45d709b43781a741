"""`studio-bridge reaper install` on a temporary resource folder, and the ReaPack index."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest
from _support import REPO
from click.testing import CliRunner

from bridge.cli import main
from bridge.daw import reaper_install as ri
from bridge.daw.reaper import APPLY_PENDING_ACTION

REAPER_INI = (
    "[REAPER]\r\n"
    "lastproject=/music/song.RPP\r\n"
    "csurf_cnt=2\r\n"
    'csurf_0=OSC "TouchOSC" 3 8000 "192.168.1.20" 9000 1024 10 "TouchOSC.ReaperOSC"\r\n'
    'csurf_1=MCU 0 1 0 0 0 0\r\n'
    "undomaxmem=200\r\n"
    "\r\n"
    "[verchk]\r\n"
    "lastcheck=1700000000\r\n"
)
KB_INI = 'KEY 1 65 40044 0\nSCR 4 0 RS1234 "Custom: mine.lua" "mine.lua"'  # no final newline


@pytest.fixture
def resource(tmp_path) -> Path:
    res = tmp_path / "REAPER"
    res.mkdir()
    (res / "reaper.ini").write_bytes(REAPER_INI.encode())
    (res / "reaper-kb.ini").write_bytes(KB_INI.encode())
    return res


def snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file()}


def test_install_adds_scripts_actions_and_surface(resource, tmp_path):
    report = ri.install(resource, spool_dir=tmp_path / "spool")
    scripts = resource / "Scripts" / "StudioBridge"
    assert (scripts / "studio_bridge.lua").is_file()
    # the library loads the DAW-neutral core from its own folder
    core = REPO / "bridge" / "daw_scripts" / "common" / "studio_bridge_core.lua"
    assert (scripts / core.name).read_bytes() == core.read_bytes()
    assert scripts / core.name in report.scripts
    assert not any(a.file == core.name for a in report.actions)  # not an action
    assert len(report.actions) == 8
    kb = (resource / "reaper-kb.ini").read_text()
    assert kb.startswith(KB_INI + "\n")
    assert ('SCR 4 0 STUDIO_BRIDGE_APPLY_PENDING "Custom: Studio Bridge: Apply pending plan" '
            '"StudioBridge/studio_bridge_apply_pending.lua"') in kb
    assert "_" + "STUDIO_BRIDGE_APPLY_PENDING" == APPLY_PENDING_ACTION
    ini = (resource / "reaper.ini").read_bytes().decode()
    assert "\r\ncsurf_cnt=3\r\n" in ini
    # other surfaces use 8000/9000: ours moves to the next free pair, on loopback
    assert ('csurf_2=OSC "Studio Bridge" 3 8001 "127.0.0.1" 9001 1024 10 "Default"\r\n'
            in ini)
    assert ini.index("csurf_2=") < ini.index("undomaxmem")
    assert "\n" not in ini.replace("\r\n", "")  # line endings kept
    settings = json.loads((scripts / "studio_bridge_settings.json").read_text())
    assert settings["spool_dir"] == str(tmp_path / "spool")
    assert (settings["reaper_osc_port"], settings["feedback_port"]) == (8001, 9001)
    assert (resource / ("reaper.ini" + ri.BACKUP_SUFFIX)).read_bytes() == REAPER_INI.encode()
    assert (resource / ("reaper-kb.ini" + ri.BACKUP_SUFFIX)).read_bytes() == KB_INI.encode()
    assert ri.read_settings(resource)["feedback_port"] == 9001


def test_install_twice_is_idempotent_and_uninstall_restores(resource, tmp_path):
    before = snapshot(resource)
    ri.install(resource, spool_dir=tmp_path / "spool")
    once = snapshot(resource)
    second = ri.install(resource, spool_dir=tmp_path / "spool")
    assert snapshot(resource) == once
    assert second.changed == []
    ri.uninstall(resource)
    assert snapshot(resource) == before
    assert not (resource / "Scripts").joinpath("StudioBridge").exists()


def test_install_again_keeps_the_spool_folder_and_stores_absolute_paths(
    resource, tmp_path, monkeypatch
):
    spool = tmp_path / "spool dir é"
    monkeypatch.chdir(tmp_path)
    ri.install(Path(resource.name), spool_dir=spool)
    settings = ri.read_settings(resource)
    assert settings["spool_dir"] == str(spool.resolve())
    assert settings["resource_path"] == str(resource.resolve())
    again = ri.install(resource)  # no --spool this time
    assert ri.read_settings(resource)["spool_dir"] == str(spool.resolve())
    assert again.changed == []
    ri.install(resource, spool_dir=tmp_path / "elsewhere")
    assert ri.read_settings(resource)["spool_dir"] == str((tmp_path / "elsewhere").resolve())


def test_uninstall_renumbers_surfaces_added_after_ours(resource, tmp_path):
    ri.install(resource, spool_dir=tmp_path / "s")
    ini = resource / "reaper.ini"
    text = ini.read_bytes().decode()
    text = text.replace("csurf_cnt=3", "csurf_cnt=4").replace(
        "undomaxmem", 'csurf_3=OSC "Later" 3 7000 "10.0.0.2" 7001 1024 10 ""\r\nundomaxmem')
    ini.write_bytes(text.encode())
    report = ri.uninstall(resource)
    after = ini.read_bytes().decode()
    assert "Studio Bridge" not in after
    assert "csurf_cnt=3\r\n" in after and 'csurf_2=OSC "Later"' in after
    assert any("changed since the install" in n for n in report.notes)


def test_fresh_resource_folder_without_surfaces_or_kb(tmp_path):
    res = tmp_path / "R"
    res.mkdir()
    original = b"[REAPER]\nfoo=1\n\n[other]\nx=2\n"
    (res / "reaper.ini").write_bytes(original)
    ri.install(res, spool_dir=tmp_path / "s")
    ini = (res / "reaper.ini").read_text()
    assert 'csurf_cnt=1\ncsurf_0=OSC "Studio Bridge" 3 8000 "127.0.0.1" 9000' in ini
    assert ini.index("csurf_0") < ini.index("[other]")
    assert (res / "reaper-kb.ini").read_text().count("SCR 4 0 STUDIO_BRIDGE_") == 8
    ri.uninstall(res)
    assert (res / "reaper.ini").read_bytes() == original
    assert not (res / "reaper-kb.ini").exists()


def test_not_a_resource_folder(tmp_path):
    with pytest.raises(ri.InstallError, match="no reaper.ini"):
        ri.install(tmp_path)


def test_find_resource_path_uses_env(tmp_path, monkeypatch, resource):
    monkeypatch.setenv("REAPER_RESOURCE_PATH", str(resource))
    assert ri.find_resource_path() == resource
    monkeypatch.setenv("REAPER_RESOURCE_PATH", str(tmp_path / "nope"))
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg"))
    monkeypatch.setenv("APPDATA", str(tmp_path / "appdata"))
    with pytest.raises(ri.InstallError, match="--resource-path"):
        ri.find_resource_path()


def test_cli_install_and_uninstall(resource, tmp_path):
    runner = CliRunner()
    before = snapshot(resource)
    result = runner.invoke(main, ["reaper", "install", "--resource-path", str(resource),
                                  "--spool", str(tmp_path / "spool")])
    assert result.exit_code == 0, result.output
    assert "_STUDIO_BRIDGE_LABEL_STEMS" in result.output
    result = runner.invoke(main, ["reaper", "install", "--resource-path", str(resource)])
    assert result.exit_code == 0
    result = runner.invoke(main, ["reaper", "install", "--uninstall",
                                  "--resource-path", str(resource)])
    assert result.exit_code == 0, result.output
    assert snapshot(resource) == before
    bad = runner.invoke(main, ["reaper", "install", "--resource-path", str(tmp_path / "x")])
    assert bad.exit_code != 0 and "reaper.ini" in bad.output


def _tool():
    spec = importlib.util.spec_from_file_location("make_reapack_index",
                                                  REPO / "tools" / "make_reapack_index.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["make_reapack_index"] = module
    spec.loader.exec_module(module)
    return module


def test_reapack_index_is_current_and_complete():
    tool = _tool()
    assert tool.main(["--check"]) == 0, "run tools/make_reapack_index.py"
    root = ET.parse(REPO / "bridge" / "daw_scripts" / "reaper" / "index.xml").getroot()
    assert root.tag == "index" and root.get("version") == "1"
    (pkg,) = root.iter("reapack")
    assert pkg.get("type") == "script"
    sources = {s.get("file"): s.get("main") for s in pkg.iter("source")}
    actions = {a.file for a in ri.action_scripts()}
    assert {f for f, m in sources.items() if m == "main"} == actions
    assert sources["studio_bridge.lua"] == "false"
    assert sources["studio_bridge_core.lua"] == "false"
    urls = {s.get("file"): s.text for s in pkg.iter("source")}
    core_url = urls["studio_bridge_core.lua"]
    assert core_url.endswith("/bridge/daw_scripts/common/studio_bridge_core.lua")
    assert all(s.text.startswith("https://") for s in pkg.iter("source"))
    # ReaPack installs exactly what the installer copies, under the same names
    assert set(sources) == {p.name for p in ri.script_files()}


def test_reapack_provides_lines():
    tool = _tool()
    assert tool.provides("[nomain] .\n[main] a.lua\n  ../common/c.lua > c.lua\nb.lua") == [
        ("nomain", ".", "."), ("main", "a.lua", "a.lua"), ("", "../common/c.lua", "c.lua"),
        ("", "b.lua", "b.lua")]


def test_cli_apply_dry_run_and_absent_reaper(tmp_path, monkeypatch):
    project = tmp_path / "s.RPP"
    project.write_text(
        "<REAPER_PROJECT 0.1 \"7.40/linux\" 1700000000\n"
        "  <TRACK {0F3C0000-0000-4000-8000-000000000001}\n    NAME Kick\n  >\n"
        "  <TRACK {0F3C0000-0000-4000-8000-000000000002}\n    NAME Snare\n  >\n>\n")
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps({"edits": [
        {"op": "set_volume", "track": "{0F3C0000-0000-4000-8000-000000000002}",
         "volume_db": -6.0},
        {"op": "set_color", "track": "{0F3C0000-0000-4000-8000-000000000001}",
         "color": "#FF0000"}]}))
    runner = CliRunner()
    out = runner.invoke(main, ["reaper", "apply", str(plan), "--project", str(project),
                               "--osc-first", "--dry-run"])
    assert out.exit_code == 0, out.output
    assert "OSC   track 2: /track/2/volume/db -6.0" in out.output
    assert "set_color has no OSC address" in out.output
    monkeypatch.setenv("STUDIO_BRIDGE_DATA", str(tmp_path / "data"))
    out = runner.invoke(main, ["reaper", "apply", str(plan), "--project", str(project),
                               "--osc-port", "9", "--feedback-port", "0", "--timeout", "0.2"])
    assert out.exit_code != 0 and "nothing was sent" in out.output
    assert not (tmp_path / "data" / "pending").exists()


def test_package_data_carries_every_daw_script():
    """A wheel install must carry the Lua actions: every file under bridge/daw_scripts is
    matched by the package-data patterns in pyproject.toml."""
    import fnmatch
    import tomllib

    config = tomllib.loads((REPO / "pyproject.toml").read_text())
    patterns = config["tool"]["setuptools"]["package-data"]["bridge"]
    scripts = REPO / "bridge" / "daw_scripts"
    files = [p.relative_to(REPO / "bridge").as_posix() for p in scripts.rglob("*") if p.is_file()]
    assert len(files) >= 17
    unshipped = [f for f in files if not any(fnmatch.fnmatch(f, pat) for pat in patterns)]
    assert unshipped == []
