"""What a track or file name says about its instrument.

Engineers' names are terse ("kick_in.wav", "BV2", "Gtr L", "OH", "Vox Dbl"), so a name is read as
*evidence*, not as the answer: :func:`name_hint` gives a prior over the vocabulary (or nothing),
and the labeller combines it with what the audio says. :func:`is_generic_name` tells the names
a DAW makes up ("Audio 01", "Track 3", "untitled", "") from names a person chose.

    >>> name_hint("kick_in.wav").best
    'kick'
    >>> name_hint("BV2").best
    'vocal'
    >>> is_generic_name("Audio 01"), is_generic_name("Gtr L")
    (True, False)
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .model import VOCABULARY

# single words (lower case) -> class. Short forms only where studios really use them.
_WORDS: dict[str, str] = {}


def _add(cls: str, *words: str) -> None:
    for w in words:
        _WORDS[w] = cls


_add("kick", "kick", "kik", "kck", "kic", "bd", "bassdrum", "kickin", "kickout", "kicksub",
     "subkick", "kickdrum")
_add("snare", "snare", "snr", "sn", "sd", "snaretop", "snarebot", "snarebottom", "rimshot",
     "sidestick", "snares")
_add("hihat", "hh", "hat", "hats", "hihat", "hihats", "hi-hat", "hhat", "hht")
_add("tom", "tom", "toms", "tom1", "tom2", "tom3", "floortom", "racktom", "ft", "rt", "tt",
     "floor", "rack")
_add("cymbal", "oh", "ohs", "overhead", "overheads", "ovh", "ride", "crash", "splash", "china",
     "cymbal", "cymbals", "cym", "cyms")
_add("drums", "drums", "drum", "kit", "drumkit", "loop", "loops", "break", "breakbeat", "beat",
     "beats", "groove", "room", "rooms", "amb", "drm", "drms", "trash")
_add("percussion", "perc", "percs", "percussion", "shaker", "shakers", "tamb", "tambourine",
     "conga", "congas", "bongo", "bongos", "cowbell", "clap", "claps", "clave", "claves",
     "cabasa", "guiro", "triangle", "timbale", "timbales", "djembe", "cajon", "tabla", "block",
     "woodblock", "snap", "snaps", "maracas", "agogo", "hand", "handclap")
_add("bass", "bass", "bs", "bas", "sub", "subbass", "bassdi", "di", "bassamp", "basssynth",
     "synthbass", "upright", "contrabass", "ebass", "bgtr", "808s")
_add("guitar", "gtr", "gtrs", "guitar", "guitars", "guit", "gt", "git", "eg", "ag", "egtr",
     "agtr", "acgtr", "elgtr", "strat", "tele", "lespaul", "rhythm", "riff", "nylon", "uke",
     "ukulele", "banjo", "mandolin", "dobro", "pedalsteel")
_add("keys", "keys", "key", "kbd", "kb", "piano", "pno", "pn", "rhodes", "wurli", "wurlitzer",
     "organ", "org", "b3", "hammond", "ep", "epiano", "clav", "clavinet", "harpsichord",
     "synth", "syn", "pad", "pads", "mellotron", "celesta", "grand", "upright_piano")
_add("strings", "strings", "string", "str", "strs", "violin", "violins", "vln", "vl", "vn",
     "viola", "vla", "va", "cello", "cellos", "vc", "celli", "quartet", "orch",
     "orchestra", "fiddle", "harp", "pizz", "ensemble")
_add("brass", "brass", "trumpet", "trumpets", "tpt", "tp", "trp", "trombone", "trombones",
     "tbn", "tb", "trb", "horn", "horns", "hn", "frenchhorn", "tuba", "flugel", "flugelhorn",
     "cornet", "euphonium")
_add("woodwind", "woodwind", "woodwinds", "ww", "winds", "flute", "flutes", "fl", "fl1",
     "clarinet", "clar", "cl", "oboe", "ob", "bassoon", "bsn", "fg", "sax", "saxophone", "alto",
     "tenor", "bari", "soprano", "recorder", "piccolo", "picc", "whistle", "pipe", "pipes",
     "panflute", "ocarina")
_add("vocal", "vox", "vocal", "vocals", "voc", "vcl", "vo_lead", "leadvox", "lv", "bv", "bvs",
     "bgv", "bgvs", "backing", "backings", "choir", "chorus", "harmony", "harmonies", "harm",
     "adlib", "adlibs", "dbl", "double", "singer", "sing", "sung", "voice", "voices", "hook",
     "verse", "ooh", "oohs", "aah", "aahs", "acapella", "acappella", "lead")
_add("speech", "speech", "vo", "voiceover", "dialog", "dialogue", "dlg", "dx", "narration",
     "narrator", "narr", "podcast", "host", "guest", "interview", "talk", "talkback", "spoken",
     "announcer", "presenter", "mc", "speaker")

# two-word phrases that mean something else than their words
_PHRASES: dict[tuple[str, str], str] = {
    ("bass", "drum"): "kick", ("kick", "drum"): "kick", ("hi", "hat"): "hihat",
    ("high", "hat"): "hihat", ("floor", "tom"): "tom", ("rack", "tom"): "tom",
    ("snare", "drum"): "snare", ("drum", "loop"): "drums", ("drum", "bus"): "drums",
    ("bass", "guitar"): "bass", ("bass", "gtr"): "bass", ("acoustic", "guitar"): "guitar",
    ("electric", "guitar"): "guitar", ("electric", "piano"): "keys",
    ("lead", "vox"): "vocal", ("lead", "vocal"): "vocal", ("backing", "vocals"): "vocal",
    ("voice", "over"): "speech", ("french", "horn"): "brass", ("double", "bass"): "bass",
    ("string", "bass"): "bass", ("upright", "bass"): "bass", ("hand", "clap"): "percussion",
    ("room", "mic"): "drums", ("over", "head"): "cymbal", ("over", "heads"): "cymbal",
    ("english", "horn"): "woodwind", ("synth", "bass"): "bass", ("sub", "bass"): "bass",
}

# Words a DAW or recorder puts in names it makes up itself.
_GENERIC = frozenset({
    "audio", "track", "trk", "tr", "untitled", "new", "mono", "stereo", "stem", "stems", "rec",
    "recording", "record", "take", "tk", "bounce", "bounced", "insert", "channel", "ch", "input",
    "in", "inst", "instrument", "midi", "bus", "aux", "sample", "file", "clip", "region",
    "glued", "render", "rendered", "print", "printed", "copy", "comp", "l", "r", "mix", "mixdown",
    "export", "exported", "wav", "aif", "aiff", "flac", "mp3", "ogg", "zoom", "tascam", "dr",
    "reaper", "ardour", "logic", "protools", "seq", "a", "b", "c", "d", "mic", "line", "di_",
    "unnamed", "noname", "empty", "default", "item", "media", "sound", "soundfile", "x",
})

# what engineers glue onto an instrument word: "kickin", "snaretop", "gtrdi", "voxdbl"
_GLUED_SUFFIXES = frozenset({"in", "out", "top", "bot", "btm", "amp", "di", "dbl", "mic", "hi",
                             "lo", "lr", "st", "ms", "sub", "cl", "op", "ped"})

_EXT = re.compile(r"\.(wav|wave|aif|aiff|flac|mp3|ogg|opus|wv|caf|w64|rf64|m4a|bwf)$", re.I)


def tokens(name: str) -> list[str]:
    """Lower-case words of a name: extension dropped, camelCase, digits and separators split.

    >>> tokens("KickIn_01.wav")
    ['kick', 'in', '01']
    """
    text = _EXT.sub("", name.strip())
    text = re.sub(r"([a-z])([A-Z])", r"\1 \2", text)
    text = re.sub(r"([A-Za-z])(\d)", r"\1 \2", text)
    text = re.sub(r"(\d)([A-Za-z])", r"\1 \2", text)
    return [t for t in re.split(r"[^0-9A-Za-z]+", text.lower()) if t]


def is_generic_name(name: str | None) -> bool:
    """True for empty names and names a DAW makes up: "Audio 01", "Track 3", "untitled",
    "Audio 1-01.wav", "REC0003", "01"; False for anything a person would type to say what it is.
    """
    if name is None:
        return True
    words = tokens(name)
    if not words:
        return True
    return all(w.isdigit() or w in _GENERIC for w in words) and not name_hint(name).prior


@dataclass(frozen=True)
class NameHint:
    """Prior evidence from a name: class -> weight in 0..1 (empty when the name says nothing)."""

    name: str
    prior: dict[str, float] = field(default_factory=dict)
    words: tuple[str, ...] = ()
    """The words that gave the evidence."""

    @property
    def best(self) -> str | None:
        return max(self.prior, key=self.prior.__getitem__) if self.prior else None

    def __bool__(self) -> bool:
        return bool(self.prior)


def name_hint(name: str | None) -> NameHint:
    """Read a track or file name for instrument words.

    Several matches share the evidence ("Kick Snare" is ambiguous, so neither gets much); a
    phrase ("bass drum", "bass gtr") wins over its single words.
    """
    if not name:
        return NameHint(name or "")
    words = tokens(name)
    found: list[tuple[str, str]] = []
    used: set[int] = set()
    for i in range(len(words) - 1):
        cls = _PHRASES.get((words[i], words[i + 1]))
        if cls:
            found.append((cls, f"{words[i]} {words[i + 1]}"))
            used |= {i, i + 1}
    for i, w in enumerate(words):
        if i in used:
            continue
        cls = _WORDS.get(w)
        if cls is None and len(w) > 3 and w.endswith("s"):
            cls = _WORDS.get(w[:-1])
        if cls is None:
            # glued words such as "kickin", "gtrl", "vox2": try a known prefix
            for n in range(min(len(w), 9), 2, -1):
                rest = w[n:]
                if w[:n] in _WORDS and (len(rest) <= 1 or rest in _GLUED_SUFFIXES):
                    cls = _WORDS[w[:n]]
                    break
        if cls:
            found.append((cls, w))
    if not found:
        return NameHint(name)
    classes = [c for c, _ in found]
    # "lead" alone is only a vocal hint when nothing more specific is there ("Lead Gtr")
    if len(set(classes)) > 1 and "vocal" in classes and all(
            w == "lead" for c, w in found if c == "vocal"):
        found = [(c, w) for c, w in found if c != "vocal"]
        classes = [c for c, _ in found]
    share = 1.0 / len(set(classes))
    prior = {c: share for c in dict.fromkeys(classes)}
    assert all(c in VOCABULARY for c in prior)
    return NameHint(name, prior, tuple(w for _, w in found))
