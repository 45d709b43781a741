"""The bridge side of the spool exchange: validation, handlers, errors, pending plans."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from bridge.daw.pending import PendingPlans, project_key
from bridge.daw.spool import (
    HandlerRegistry,
    RequestError,
    SpoolServer,
    inside,
    validate_request,
    write_json_atomic,
)
from bridge.plan import Plan, SetVolume

G = "{0F3C0000-0000-4000-8000-000000000001}"


@pytest.fixture
def project(tmp_path) -> Path:
    p = tmp_path / "song" / "song.RPP"
    p.parent.mkdir()
    p.write_text("<REAPER_PROJECT\n>\n")
    return p


@pytest.fixture
def server(tmp_path):
    return SpoolServer(tmp_path / "spool", HandlerRegistry(modules={}),
                       pending=PendingPlans(tmp_path / "pending"))


def request(project: Path, rid: str = "r1", **extra) -> dict:
    return {"protocol": 1, "id": rid, "action": "label", "project": str(project),
            "tracks": [{"guid": G, "name": "Audio 1", "index": 0,
                        "items": [{"source": "/a.wav"}]}], **extra}


def submit(server: SpoolServer, data, rid: str = "r1") -> dict:
    path = server.paths.requests / f"{rid}.json"
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    server.poll_once()
    return json.loads((server.paths.responses / f"{rid}.json").read_text())


def test_handler_plan_comes_back(server, project):
    server.registry.register("label", lambda r: Plan([SetVolume(track=r["tracks"][0]["guid"],
                                                                volume_db=-3.0)]))
    resp = submit(server, request(project))
    assert resp["status"] == "ok" and resp["id"] == "r1"
    assert Plan.from_dict(resp["plan"]).edits[0].volume_db == -3.0
    assert not list(server.paths.requests.iterdir())
    assert not list(server.paths.status.iterdir())


def test_handler_gets_validated_request(server, project):
    seen = []
    server.registry.register("label", lambda r: seen.append(r) or Plan())
    submit(server, request(project))
    assert seen[0]["project_dir"] == str(project.parent.resolve())
    assert seen[0]["options"] == {}


@pytest.mark.parametrize("mutate,message", [
    (lambda r: r.update(protocol=2), "protocol"),
    (lambda r: r.update(id="other"), "does not match"),
    (lambda r: r.update(project="relative/song.RPP"), "not absolute"),
    (lambda r: r.update(project="/etc/passwd"), "not a REAPER project"),
    (lambda r: r.update(project="/nowhere/x.rpp"), "does not exist"),
    (lambda r: r.update(project=""), "not been saved"),
    (lambda r: r["tracks"][0].update(guid="../../x"), "not a GUID"),
    (lambda r: r["tracks"][0].update(index=-1), "index"),
    (lambda r: r.update(tracks="all"), "tracks must be a list"),
    (lambda r: r.update(action="os.system"), "unknown action"),
])
def test_bad_requests_get_error_responses(server, project, mutate, message):
    server.registry.register("label", lambda r: Plan())
    data = request(project)
    mutate(data)
    resp = submit(server, data)
    assert resp["status"] == "error" and message in resp["error"]
    assert (server.paths.rejected / "r1.json").exists() or "unknown action" in message


def test_not_json_is_rejected_and_the_server_carries_on(server, project):
    server.registry.register("label", lambda r: Plan())
    bad = submit(server, "{not json", rid="bad")
    assert bad["status"] == "error" and "not JSON" in bad["error"]
    good = submit(server, request(project, rid="good"), rid="good")
    assert good["status"] == "ok"


def test_unsafe_file_names_never_get_a_response_file(server):
    (server.paths.requests / ".hidden.json").write_text("{}")
    (server.paths.requests / "a b.json").write_text("{}")
    server.poll_once()
    assert list(server.paths.responses.iterdir()) == []
    assert sorted(p.name for p in server.paths.rejected.iterdir()) == [".hidden.json", "a b.json"]


def test_handler_exception_and_wrong_type(server, project):
    server.registry.register("label", lambda r: 1 / 0)
    assert "label failed: division by zero" in submit(server, request(project))["error"]
    server.registry.register("label", lambda r: {"edits": []})
    assert "not a Plan" in submit(server, request(project, rid="r2"), rid="r2")["error"]
    assert server.failed == 2


def test_lazy_module_registration(tmp_path, project, monkeypatch):
    mod = tmp_path / "mods" / "my_label_assistant.py"
    mod.parent.mkdir()
    mod.write_text(
        "from bridge.daw.spool import registry\n"
        "from bridge.plan import Plan\n"
        "registry.register('label', lambda r: (Plan(), 'hello from the module'))\n")
    monkeypatch.syspath_prepend(str(mod.parent))
    from bridge.daw import spool

    monkeypatch.setitem(spool.registry._modules, "label", "my_label_assistant")
    monkeypatch.setattr(spool.registry, "_handlers", {})
    srv = SpoolServer(tmp_path / "spool2", pending=PendingPlans(tmp_path / "p"))
    resp = submit(srv, request(project))
    assert resp["status"] == "ok" and resp["message"] == "hello from the module"


def test_registry_names_default_modules():
    reg = HandlerRegistry()
    assert {"label", "starter_mix", "suggest_eq", "cleanup"} <= set(reg.names())
    with pytest.raises(ValueError):
        reg.register("Bad Name", lambda r: Plan())


def test_render_handler_refuses_folders_outside_the_project(server, project, tmp_path):
    resp = submit(server, request(project, action="render", options={"stems_dir": str(tmp_path)}))
    assert resp["status"] == "error" and "outside" in resp["error"]
    stems = project.parent / "StudioBridge" / "stems"
    stems.mkdir(parents=True)
    (stems / "01 - Kick.wav").write_bytes(b"RIFF")
    resp = submit(server, request(project, rid="r2", action="render",
                                  options={"stems_dir": str(stems / ".." / "stems")}), rid="r2")
    assert resp["status"] == "ok" and "1 stem(s)" in resp["message"]


def test_inside():
    assert inside("/a/b/c", "/a/b") == Path("/a/b/c")
    with pytest.raises(RequestError):
        inside("/a/b/../x", "/a/b")


def test_validate_request_normalises(project):
    out = validate_request(request(project), "r1")
    assert out["tracks"][0]["items"] == [{"source": "/a.wav"}]


def test_pending_plans_take_once(tmp_path, project):
    store = PendingPlans(tmp_path / "pending")
    plan = Plan([SetVolume(track=G, volume_db=-math.inf)])
    store.put(project, plan, title="Starter mix")
    same = project.parent / "." / project.name
    got, meta = store.take(same)
    assert got.edits[0].volume_db == -1000.0  # silence, in strict JSON
    assert meta["title"] == "Starter mix"
    assert store.take(project) is None
    assert len(list((tmp_path / "pending" / "applied").iterdir())) == 1
    assert project_key(project) == project_key(str(same))


def test_minus_infinity_volume_survives_the_exchange(server, project):
    server.registry.register("label", lambda r: Plan([SetVolume(track=G, volume_db=-math.inf)]))
    resp = submit(server, request(project))
    assert resp["status"] == "ok"
    text = (server.paths.root / "x.json")
    write_json_atomic(text, resp)  # strict JSON: no Infinity tokens
    assert "Infinity" not in text.read_text()
    assert resp["plan"]["edits"][0]["volume_db"] <= -150


def test_heartbeat(server):
    server.beat()
    beat = json.loads(server.paths.heartbeat.read_text())
    assert beat["protocol"] == 1 and beat["time"] > 0


# ------------------------------------------------------------------------------------------
# the optional reapy transport
# ------------------------------------------------------------------------------------------


class _Recorder:
    def __init__(self):
        self.calls = []

    def __getattr__(self, name):
        def call(*args):
            self.calls.append((name, args))
            return {"CountTracks": 1, "GetTrack": "TR", "GetTrackGUID": G, "TrackFX_GetEQ": 0,
                    "ColorToNative": 255}.get(name, True)
        return call


def test_reapy_refuses_anything_but_loopback():
    from bridge.daw.reapy_transport import ReapyTransport

    for host in ("0.0.0.0", "192.168.1.5", "reaper.example.com"):
        with pytest.raises(ValueError, match="loopback"):
            ReapyTransport(host)
    ReapyTransport("127.0.0.1", api=_Recorder())
    ReapyTransport("::1", api=_Recorder())


def test_reapy_applies_in_one_undo_block():
    from bridge.daw.reapy_transport import ReapyTransport
    from bridge.plan import AddTake, RenameTrack

    rec = _Recorder()
    applied, notes = ReapyTransport(api=rec).apply(
        Plan([RenameTrack(track=G.lower(), name="Kick"), SetVolume(track=G, volume_db=-6.0),
              AddTake(track=G, file="x.wav")]), title="Starter mix")
    names = [n for n, _ in rec.calls]
    assert names[:3] == ["CountTracks", "GetTrack", "GetTrackGUID"]
    assert names[3:5] == ["Undo_BeginBlock2", "PreventUIRefresh"]
    assert rec.calls[-1] == ("Undo_EndBlock2", (0, "Studio Bridge: Starter mix", -1))
    assert ("GetSetMediaTrackInfo_String", ("TR", "P_NAME", "Kick", True)) in rec.calls
    assert applied == 2 and "Lua actions" in notes[0]


def test_reapy_missing_is_a_clear_error(monkeypatch):
    import builtins

    from bridge.daw.reapy_transport import ReapyTransport, ReapyUnavailable

    real_import = builtins.__import__

    def no_reapy(name, *args, **kwargs):
        if name == "reapy":
            raise ImportError("No module named 'reapy'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_reapy)
    with pytest.raises(ReapyUnavailable, match=r"studio-bridge\[reapy\]"):
        _ = ReapyTransport().api
