"""Labels -> Plan: studio names, numbering, colours, reasons, what is left alone."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf

from bridge.assist.label import (
    FAMILY_COLORS,
    TrackLabel,
    label_tracks,
    plan_from_labels,
    plan_labels,
    studio_names,
)
from bridge.assist.labeller import LabelResult
from bridge.assist.labeller.model import VOCABULARY
from bridge.plan import Plan, RenameTrack, SetColor
from bridge.session.model import Session, Track


def _result(label: str, confidence: float = 0.9, active_s: float = 10.0,
            rms: float = -20.0) -> LabelResult:
    scores = {c: 0.0 for c in VOCABULARY}
    if label in scores:
        scores[label] = confidence
    return LabelResult(label, confidence, scores, f"audio: {label} {confidence:.2f}",
                       {"active_s": active_s, "rms_active_dbfs": rms})


def _session(names: list[str], tmp_path: Path) -> Session:
    tracks = [Track(guid=f"{{G{i:02d}}}", name=n, index=i) for i, n in enumerate(names)]
    return Session(path=tmp_path / "song.RPP", daw="reaper", tracks=tracks)


def test_studio_names_number_duplicates_and_pick_the_lead_vocal(tmp_path: Path) -> None:
    s = _session([f"Audio {i:02d}" for i in range(1, 12)], tmp_path)
    labels = ["kick", "snare", "tom", "tom", "guitar", "guitar", "vocal", "vocal", "vocal",
              "bass", "unknown"]
    tl = [TrackLabel(t, _result(lab, active_s=30.0 if i == 7 else 8.0))
          for i, (t, lab) in enumerate(zip(s.tracks, labels, strict=True))]
    names = studio_names(tl)
    got = [names.get(t.guid) for t in s.tracks]
    assert got == ["Kick", "Snare", "Tom 1", "Tom 2", "Gtr 1", "Gtr 2", "BV 1", "Lead Vox",
                   "BV 2", "Bass", None]


def test_single_tom_is_still_numbered_and_single_guitar_is_not(tmp_path: Path) -> None:
    s = _session(["", ""], tmp_path)
    names = studio_names([TrackLabel(s.tracks[0], _result("tom")),
                          TrackLabel(s.tracks[1], _result("guitar"))])
    assert names == {"{G00}": "Tom 1", "{G01}": "Gtr"}


def test_existing_names_are_not_reused(tmp_path: Path) -> None:
    s = _session(["Kick", "Audio 02", "Audio 03"], tmp_path)
    tl = [TrackLabel(s.tracks[1], _result("kick")), TrackLabel(s.tracks[2], _result("snare"))]
    plan = plan_from_labels(tl, s)
    renames = {e.track: e.name for e in plan if isinstance(e, RenameTrack)}
    assert renames == {"{G01}": "Kick 2", "{G02}": "Snare"}


def test_plan_has_reasons_colours_per_family_and_round_trips(tmp_path: Path) -> None:
    s = _session(["Audio 01", "Audio 02", "Audio 03", "Audio 04"], tmp_path)
    tl = [TrackLabel(s.tracks[0], _result("kick", 0.97)),
          TrackLabel(s.tracks[1], _result("hihat", 0.88)),
          TrackLabel(s.tracks[2], _result("keys", 0.91)),
          TrackLabel(s.tracks[3], _result("unknown", 0.3))]
    plan = plan_from_labels(tl, s)
    colors = {e.track: e.color for e in plan if isinstance(e, SetColor)}
    assert colors["{G00}"] == colors["{G01}"] == FAMILY_COLORS["drums"]
    assert colors["{G02}"] == FAMILY_COLORS["keys"]
    assert "{G03}" not in colors and not plan.for_track("{G03}")
    for edit in plan:
        assert edit.reason
    kick = next(e for e in plan if isinstance(e, RenameTrack) and e.track == "{G00}")
    assert "kick 0.97" in kick.reason and kick.figures["confidence"] == 0.97
    assert Plan.from_json(plan.to_json()) == plan


def test_colour_already_right_is_not_set_again(tmp_path: Path) -> None:
    s = _session(["Audio 01"], tmp_path)
    s.tracks[0].color = FAMILY_COLORS["bass"]
    plan = plan_from_labels([TrackLabel(s.tracks[0], _result("bass"))], s)
    assert [e.op for e in plan] == ["rename_track"]


def _write(path: Path, audio: np.ndarray, rate: int = 22050) -> Path:
    sf.write(path, audio, rate)
    return path


def _kick_pattern(rate: int = 22050, seconds: float = 6.0) -> np.ndarray:
    """A synthesised kick: a pitch-swept sine thump every half second."""
    t = np.arange(int(0.4 * rate)) / rate
    freq = 50 + 120 * np.exp(-t * 30)
    hit = np.sin(2 * np.pi * np.cumsum(freq) / rate) * np.exp(-t * 9)
    out = np.zeros(int(seconds * rate))
    for start in range(0, len(out) - len(hit), rate // 2):
        out[start:start + len(hit)] += hit
    return 0.8 * out


def test_plan_labels_end_to_end_on_stems(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    s = _session(["Audio 01", "Audio 02", "Kick", "Audio 04", "Audio 05"], tmp_path)
    stems = {
        "{G00}": _write(tmp_path / "a.wav", _kick_pattern()),
        "{G01}": _write(tmp_path / "b.wav", np.zeros(22050 * 3)),  # silent: unknown
        "{G02}": _write(tmp_path / "c.wav", _kick_pattern()),  # named by a person: kept
        "{G03}": _write(tmp_path / "d.wav", 0.3 * rng.standard_normal(22050 * 4)),  # noise
        # {G04} has no stem at all
    }
    (tmp_path / "broken.wav").write_bytes(b"RIFF0000WAVEjunk")
    stems["{G04}"] = tmp_path / "broken.wav"
    labels = label_tracks(s, stems)
    assert [t.track.name for t in labels] == ["Audio 01", "Audio 02", "Audio 04", "Audio 05"]
    by_name = {t.track.name: t for t in labels}
    assert by_name["Audio 01"].label == "kick"
    assert by_name["Audio 02"].label == "unknown"
    assert by_name["Audio 04"].label == "unknown"
    assert by_name["Audio 05"].error and "broken.wav" in by_name["Audio 05"].error
    plan = plan_labels(s, stems)
    renames = {e.track: e.name for e in plan if isinstance(e, RenameTrack)}
    # a track a person named "Kick" exists, so the new kick is numbered
    assert renames == {"{G00}": "Kick 2"}
    everything = plan_labels(s, stems, rename_all=True)
    renamed_all = {e.track: e.name for e in everything if isinstance(e, RenameTrack)}
    assert set(renamed_all) == {"{G00}", "{G02}"}
    assert sorted(renamed_all.values()) == ["Kick 1", "Kick 2"]


def test_take_and_file_names_are_hints_and_made_up_names_are_not(tmp_path: Path) -> None:
    from bridge.assist.label import name_evidence
    from bridge.session.model import Item, Source

    def item(name: str, file: str) -> Item:
        return Item(position_s=0.0, length_s=1.0, name=name, source=Source(kind="WAVE", file=file))

    track = Track(guid="{G00}", name="Audio 03", index=0, items=[
        item("Kick_In.wav", "Media/Kick_In.wav"),          # take named after its file: once
        item("Audio 03-glued", "Audio/Audio 03-glued.wav"),  # made up by the DAW
        item("", "C:\\Session\\Audio\\BD_sub.wav"),        # Windows path from another machine
    ])
    assert name_evidence(track) == "Kick_In.wav BD_sub.wav"
    assert name_evidence(Track(guid="{G01}", name="Audio 04", index=1)) is None
    named = Track(guid="{G02}", name="Gtr L", index=2, items=[item("REC0004.wav", "REC0004.wav")])
    assert name_evidence(named) == "Gtr L"


def test_a_file_name_on_a_generically_named_track_reaches_the_labeller(tmp_path: Path) -> None:
    from bridge.session.model import Item, Source

    s = _session(["Audio 01", "Audio 02"], tmp_path)
    s.tracks[0].items.append(Item(position_s=0.0, length_s=4.0, name="kick_in.wav",
                                  source=Source(kind="WAVE", file="kick_in.wav")))
    stems = {"{G00}": _write(tmp_path / "a.wav", _kick_pattern()),
             "{G01}": _write(tmp_path / "b.wav", _kick_pattern())}
    labels = {t.track.name: t.result for t in label_tracks(s, stems)}
    assert labels["Audio 01"].label == labels["Audio 02"].label == "kick"
    assert "name 'kick_in.wav' agrees" in labels["Audio 01"].evidence
    assert "name" not in labels["Audio 02"].evidence
    assert labels["Audio 01"].confidence >= labels["Audio 02"].confidence
