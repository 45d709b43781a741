"""Starter mix: decisions on numbers (fast, property-based) and on a rendered band session made
of real recordings (scrambled faders restored, caps, idempotence, headroom, muted/solo/folders)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_mix_support import build_band_session, short_term_meter

from bridge.assist.mix import (
    StemLoudness,
    active_loudness,
    load_targets,
    mix_class,
    mix_peak_dbfs,
    starter_mix,
)
from bridge.plan import Plan, SetVolume
from bridge.session.model import Session, Track

CLASSES = ["kick", "snare", "bass", "guitar", "keys", "hihat", "vocal", "strings"]


def _session(faders: list[float], **flags: dict[int, bool]) -> Session:
    tracks = [Track(f"{{T{i}}}", f"Audio {i + 1}", i, volume_db=f) for i, f in enumerate(faders)]
    for name, which in flags.items():
        for i, on in which.items():
            setattr(tracks[i], name, on)
    return Session(Path("t.rpp"), "reaper", tracks)


def _measures(pre_fader: list[float], faders: list[float], seconds: int = 30
              ) -> dict[str, StemLoudness]:
    """Stems 'rendered' post-fader: a steady series at pre-fader loudness + fader."""
    out = {}
    for i, (level, fader) in enumerate(zip(pre_fader, faders, strict=True)):
        frames = np.full(seconds * 10, level + fader)
        frames[:20] = -120.0  # a silent count-in must not pull the level down
        out[f"{{T{i}}}"] = StemLoudness(frames, gain_in_stem_db=fader)
    return out


def _apply(session: Session, plan: Plan) -> None:
    for edit in plan:
        assert isinstance(edit, SetVolume)
        session.track(edit.track).volume_db = edit.volume_db


def test_active_loudness_ignores_silence() -> None:
    frames = np.concatenate([np.full(50, -18.0), np.full(200, -95.0), np.full(50, -18.0)])
    assert active_loudness(frames) == pytest.approx(-18.0, abs=1e-9)
    assert active_loudness(np.full(10, -np.inf)) == -math.inf


def test_targets_table_loads_and_user_file_overrides(tmp_path: Path) -> None:
    defaults = load_targets()
    assert defaults.headroom_peak_dbfs == -6.0
    assert defaults.for_class("vocal").lead and defaults.for_class("vocal").over_accompaniment_db
    assert defaults.for_class("no-such-class").keep
    user = tmp_path / "t.toml"
    user.write_text("[mix]\nmax_move_db = 3\n[class.kick]\nlevel_lu = 2.5\n")
    mine = load_targets(user)
    assert mine.max_move_db == 3 and mine.for_class("kick").level_lu == 2.5
    assert mine.for_class("snare").level_lu == defaults.for_class("snare").level_lu
    user.write_text("[class.kick]\nlevle_lu = 1\n")
    with pytest.raises(ValueError, match="levle_lu"):
        load_targets(user)
    user.write_text("[mix\n")
    with pytest.raises(ValueError, match="t.toml"):
        load_targets(user)
    # typos never fall back to the defaults silently
    for text, message in (("[class.kik]\nlevel_lu = 3\n", r"unknown class \[class.kik\]"),
                          ("[mix]\nheadroom = 3\n", "unknown key 'headroom'"),
                          ("[mixx]\nmax_move_db = 3\n", r"unknown section \[mixx\]")):
        user.write_text(text)
        with pytest.raises(ValueError, match=message):
            load_targets(user)


def test_backing_vocal_by_name() -> None:
    assert mix_class("vocal", "BV 2") == "backing_vocal"
    assert mix_class("vocal", "Harmony hi") == "backing_vocal"
    assert mix_class("vocal", "Lead Vox") == "vocal"
    assert mix_class("", "x") == "unknown"


def test_moves_reach_class_targets_and_explain_themselves() -> None:
    targets = load_targets()
    pre = [-20.0, -26.0, -15.0, -18.0]
    labels = {"{T0}": "kick", "{T1}": "snare", "{T2}": "bass", "{T3}": "guitar"}
    session = _session([0.0] * 4)
    result = starter_mix(session, labels, _measures(pre, [0.0] * 4))
    _apply(session, result.plan)
    after = {t.guid: pre[i] + t.volume_db for i, t in enumerate(session.tracks)}
    for guid, label in labels.items():
        rel = after[guid] - after["{T0}"]
        assert rel == pytest.approx(targets.for_class(label).level_lu, abs=0.02)
    for edit in result.plan:
        assert "LUFS" in edit.reason and edit.figures["target_lufs"] is not None


@settings(max_examples=60, deadline=None)
@given(
    pre=st.lists(st.floats(-40, -8), min_size=2, max_size=7),
    offsets=st.lists(st.floats(-20, 20), min_size=7, max_size=7),
    cap=st.floats(1.0, 15.0),
    seed=st.integers(0, 10_000),
)
def test_caps_and_idempotence_property(pre: list[float], offsets: list[float], cap: float,
                                       seed: int) -> None:
    rng = np.random.default_rng(seed)
    faders = offsets[: len(pre)]
    labels = {f"{{T{i}}}": CLASSES[int(rng.integers(len(CLASSES)))] for i in range(len(pre))}
    session = _session(list(faders))
    result = starter_mix(session, labels, _measures(pre, faders), max_move_db=cap)
    for edit in result.plan:
        before = session.track(edit.track).volume_db
        assert abs(edit.volume_db - before) <= cap + 0.01
    if not any(t.capped for t in result.tracks):
        _apply(session, result.plan)
        now = [t.volume_db for t in session.tracks]
        again = starter_mix(session, labels, _measures(pre, now), max_move_db=cap)
        assert len(again.plan) == 0, again.plan.describe()


def test_vocal_sits_over_the_accompaniment_power_sum() -> None:
    pre = [-20.0, -20.0, -30.0]
    labels = {"{T0}": "kick", "{T1}": "snare", "{T2}": "vocal"}
    session = _session([0.0] * 3)
    result = starter_mix(session, labels, _measures(pre, [0.0] * 3))
    _apply(session, result.plan)
    level = [pre[i] + t.volume_db for i, t in enumerate(session.tracks)]
    accompaniment = 10 * math.log10(10 ** (level[0] / 10) + 10 ** (level[1] / 10))
    assert level[2] - accompaniment == pytest.approx(1.0, abs=0.05)


def test_muted_soloed_folders_and_unknown_are_respected() -> None:
    # 0 folder(bus) > 1 kick, 2 snare (closes) ; 3 bass muted ; 4 guitar ; 5 unknown
    session = _session([-4.0, 0.0, 0.0, 0.0, 0.0, 0.0])
    session.tracks[0].folder_depth = 1
    session.tracks[2].folder_depth = -1
    session.tracks[3].mute = True
    labels = {"{T1}": "kick", "{T2}": "snare", "{T3}": "bass", "{T4}": "guitar",
              "{T5}": "unknown", "{T0}": "drums"}
    pre = [-20.0, -14.0, -22.0, -10.0, -16.0, -12.0]
    result = starter_mix(session, labels, _measures(pre, [t.volume_db for t in session.tracks]))
    moved = {e.track for e in result.plan}
    assert "{T0}" not in moved and "{T3}" not in moved and "{T5}" not in moved
    rows = {r.guid: r for r in result.tracks}
    assert rows["{T3}"].skipped == "muted" and rows["{T0}"].skipped.startswith("folder")
    _apply(session, result.plan)
    # the folder's -4 dB counts: kick and snare land equal *in the mix*
    kick = pre[1] + session.tracks[1].volume_db - 4.0
    snare = pre[2] + session.tracks[2].volume_db - 4.0
    guitar = pre[4] + session.tracks[4].volume_db
    assert kick == pytest.approx(snare, abs=0.02)
    assert guitar - kick == pytest.approx(-4.0, abs=0.02)

    # solo the guitar: only soloed tracks are balanced, the rest is left as it is
    session.tracks[4].solo = True
    solo = starter_mix(session, labels, _measures(pre, [t.volume_db for t in session.tracks]))
    assert {e.track for e in solo.plan} <= {"{T4}"}
    assert {r.guid: r.skipped for r in solo.tracks}["{T1}"] == "not soloed"


def test_mix_peak_streams_files_and_arrays(tmp_path: Path) -> None:
    import soundfile as sf

    a = np.zeros((100_000, 2))
    a[5000] = 0.25
    b = np.zeros(150_000)
    b[5000] = 0.25
    sf.write(str(tmp_path / "a.wav"), a, 48000, subtype="FLOAT")
    stems = {"a": tmp_path / "a.wav", "b": b}
    peak = mix_peak_dbfs(stems, {"a": 0.0, "b": 6.0206}, block_frames=4096)
    assert peak == pytest.approx(20 * math.log10(0.75), abs=0.01)
    assert mix_peak_dbfs(stems, {}) == -math.inf


# ------------------------------------------------------------------ a rendered band, real audio


def _render_and_decide(session: Session, labels: dict[str, str], out: Path, cap: float):
    from bridge.assist.mix import measure_stems
    from bridge.audio.render import render_stems

    report = render_stems(session, out)
    assert set(report.problems) <= {t.guid for t in session.tracks if t.is_folder}
    measures, problems = measure_stems(report.stems, session, meter=short_term_meter())
    assert not problems
    result = starter_mix(session, labels, measures, max_move_db=cap,
                         mix_peak=lambda g: mix_peak_dbfs(report.stems, g))
    return result, report


def _effective(session: Session) -> dict[str, float]:
    from bridge.assist.mix import folder_parents

    parents = folder_parents(session.tracks)
    return {t.guid: t.volume_db + sum(p.volume_db for p in parents[t.guid])
            for t in session.tracks if not t.is_folder}


@pytest.mark.slow
def test_scrambled_band_is_restored_within_tolerance(tmp_path: Path) -> None:
    session, labels = build_band_session(tmp_path / "src")
    # the known balance: the starter mix run to its targets (no cap in the way)
    for _ in range(2):
        result, _ = _render_and_decide(session, labels, tmp_path / "stems", cap=60.0)
        _apply(session, result.plan)
    settled, report = _render_and_decide(session, labels, tmp_path / "stems", cap=60.0)
    assert len(settled.plan) == 0, settled.plan.describe()
    assert settled.peak_after_dbfs <= -6.0 + 0.05
    balance = _effective(session)

    _check_independently(report, labels, session)

    rng = np.random.default_rng(7)
    for trial in range(2):
        for track in session.tracks:
            if track.is_folder:
                track.volume_db = round(float(rng.uniform(-4.0, 4.0)), 2)
            else:
                track.volume_db = round(balance[track.guid] + float(rng.uniform(-12, 12)), 2)
        scrambled = dict(_effective(session))
        cap = 24.0
        result, _ = _render_and_decide(session, labels, tmp_path / f"s{trial}", cap=cap)
        for edit in result.plan:
            assert abs(edit.figures["move_db"]) <= cap + 0.01
        _apply(session, result.plan)
        restored = _effective(session)
        diff = np.array([restored[g] - balance[g] for g in balance])
        rms = float(np.sqrt(np.mean((diff - diff.mean()) ** 2)))
        assert rms <= 1.5, (rms, scrambled, restored)
        again, _ = _render_and_decide(session, labels, tmp_path / f"a{trial}", cap=cap)
        assert all(abs(e.figures["move_db"]) < 0.3 for e in again.plan), again.plan.describe()
        for track in session.tracks:  # back to the balance for the next trial
            track.volume_db = 0.0 if track.is_folder else balance[track.guid]


def _check_independently(report, labels: dict[str, str], session: Session) -> None:
    """With pyloudnorm (BS.1770 integrated, its own gating) on the balanced stems: the lead sits
    about 1 dB over the accompaniment, and kick and snare are close."""
    import pyloudnorm
    import soundfile as sf

    stems = {g: sf.read(str(p), dtype="float64")[0] for g, p in report.stems.items()}
    gains = {g: 10 ** (v / 20) for g, v in _effective(session).items()}
    post = {g: s * gains[g] / 10 ** (session.track(g).volume_db / 20) for g, s in stems.items()}
    by_label = {labels[g]: g for g in post}
    meter = pyloudnorm.Meter(report.sample_rate)
    accompaniment = sum(s for g, s in post.items() if labels[g] != "vocal")
    vocal = meter.integrated_loudness(post[by_label["vocal"]])
    over = vocal - meter.integrated_loudness(accompaniment)
    assert over == pytest.approx(1.0, abs=1.5), over
    kick = meter.integrated_loudness(post[by_label["kick"]])
    snare = meter.integrated_loudness(post[by_label["snare"]])
    assert abs(kick - snare) <= 2.0, (kick, snare)


@pytest.mark.slow
def test_default_cap_holds_on_a_hot_session(tmp_path: Path) -> None:
    session, labels = build_band_session(tmp_path / "src", drum_folder=False)
    result, _ = _render_and_decide(session, labels, tmp_path / "stems", cap=12.0)
    assert result.plan
    # each balance move stays within the cap; the headroom trim is one number for every fader
    trims = {e.figures["headroom_trim_db"] for e in result.plan}
    assert len(trims) == 1
    assert all(abs(e.figures["move_db"] - e.figures["headroom_trim_db"]) <= 12.0 + 0.01
               for e in result.plan)
    assert result.peak_before_dbfs is not None and result.peak_after_dbfs is not None
    assert result.peak_after_dbfs <= -6.0 + 0.05  # the bus never ends up over the limit


def test_headroom_trims_every_heard_fader_when_a_cap_holds_the_targets() -> None:
    """A track 20 dB too loud can only come 6 dB down this run; the bus must still stay under
    the limit: every fader, the unknown track's too, comes down by one common trim."""
    pre = [-20.0, -20.0, -6.0, -18.0]
    faders = [0.0, 0.0, 0.0, 0.0]
    labels = {"{T0}": "kick", "{T1}": "snare", "{T2}": "strings", "{T3}": "unknown"}
    session = _session(faders)
    measures = _measures(pre, faders)

    def bus_peak(gains: dict[str, float]) -> float:
        # a stand-in bus: each stem peaks 12 dB over its loudness, peaks add in power
        total = sum(10 ** ((pre[int(g[2:-1])] + 12.0 + v) / 10) for g, v in gains.items())
        return 10 * np.log10(total)

    result = starter_mix(session, labels, measures, max_move_db=6.0, mix_peak=bus_peak)
    assert result.peak_after_dbfs is not None and result.peak_after_dbfs <= -6.0 + 0.05
    edits = {e.track: e for e in result.plan}
    trims = {e.figures["headroom_trim_db"] for e in edits.values()}
    assert len(trims) == 1 and trims.pop() < -1.0
    assert edits["{T2}"].figures["capped"]
    assert all(abs(e.figures["move_db"] - e.figures["headroom_trim_db"]) <= 6.0 + 0.01
               for e in edits.values())
    # the unknown track is not levelled, only trimmed with the rest
    unknown = edits["{T3}"]
    assert unknown.figures["move_db"] == pytest.approx(unknown.figures["headroom_trim_db"])
    assert "keeps its fader, but every fader comes down" in unknown.reason
