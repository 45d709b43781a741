"""Settings: defaults, the TOML file, and errors that name the file and the key."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bridge.config import Config, ConfigError, config_from_toml, default_config_path, load_config


def test_defaults_are_the_documented_ones() -> None:
    cfg = Config()
    assert cfg.watch_folders == []
    assert cfg.debounce_ms == 300
    assert (cfg.reaper_host, cfg.reaper_port, cfg.reaper_feedback_port) == ("127.0.0.1", 8000, 9000)
    assert cfg.ardour_port == 3819
    assert cfg.write_closed_projects is False
    assert cfg.rename_all is False
    assert cfg.min_confidence is None  # the labeller's own threshold
    assert cfg.spool_path == cfg.data_dir / "reaper-spool"
    assert cfg.pending_dir == cfg.data_dir / "pending"


def test_file_values_override_defaults(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(
        '[watch]\nfolders = ["~/music", "/srv/projects"]\ndebounce_ms = 120\n'
        "[label]\nrename_all = true\nmin_confidence = 0.8\n"
        "[apply]\nwrite_closed_projects = true\n"
        '[reaper]\nport = 8100\nfeedback_port = 9100\n[ardour]\nport = 3820\n'
        f'[paths]\ndata_dir = "{tmp_path / "data"}"\n'
    )
    cfg = load_config(path)
    assert cfg.watch_folders == [Path("~/music").expanduser(), Path("/srv/projects")]
    assert cfg.debounce_ms == 120 and cfg.debounce_s == pytest.approx(0.12)
    assert cfg.rename_all and cfg.write_closed_projects
    assert cfg.min_confidence == 0.8
    assert (cfg.reaper_port, cfg.reaper_feedback_port, cfg.ardour_port) == (8100, 9100, 3820)
    assert cfg.data_dir == tmp_path / "data"
    assert cfg.source == path


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("[watch]\ndebounce = 3\n", "unknown key 'debounce' in [watch]"),
        ("[wacth]\nfolders = []\n", "unknown section [wacth]"),
        ("[reaper]\nport = 70000\n", "[reaper] port"),
        ("[reaper]\nport = \"8000\"\n", "[reaper] port: expected an integer"),
        ("[label]\nmin_confidence = 1.5\n", "[label] min_confidence"),
        ("[apply]\nwrite_closed_projects = 1\n", "true or false"),
        ("[watch]\nfolders = \"/x\"\n", "list of folder paths"),
        ("[watch\n", "not valid TOML"),
    ],
)
def test_bad_settings_name_file_and_key(tmp_path: Path, text: str, needle: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert str(path) in str(err.value)
    assert needle in str(err.value)


def test_missing_default_file_means_defaults_but_explicit_one_is_an_error(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("STUDIO_BRIDGE_CONFIG", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "nowhere"))
    assert default_config_path() == tmp_path / "nowhere" / "studio-bridge" / "config.toml"
    assert load_config() == Config()
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "absent.toml")
    monkeypatch.setenv("STUDIO_BRIDGE_CONFIG", str(tmp_path / "env.toml"))
    with pytest.raises(ConfigError, match="not found"):
        load_config()
    (tmp_path / "env.toml").write_text("[watch]\ndebounce_ms = 50\n")
    assert load_config().debounce_ms == 50


@given(
    folders=st.lists(st.text(st.characters(codec="utf-8", exclude_characters="\x00"),
                             min_size=1, max_size=20).map(lambda s: "/p/" + s), max_size=3),
    debounce=st.integers(0, 60_000),
    conf=st.none() | st.floats(0.0, 1.0),
    flags=st.tuples(st.booleans(), st.booleans(), st.booleans()),
    port=st.integers(1, 65535),
)
def test_printed_settings_read_back_identically(folders, debounce, conf, flags, port) -> None:  # noqa: ANN001
    cfg = Config(watch_folders=[Path(f) for f in folders], debounce_ms=debounce,
                 min_confidence=conf, rename_all=flags[0], write_closed_projects=flags[1],
                 reaper_one_undo=flags[2], reaper_port=port, data_dir=Path("/data"))
    back = config_from_toml(cfg.to_toml())
    assert back == cfg
