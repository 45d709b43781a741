"""Build the ReaPack ``index.xml`` for the REAPER actions from their script headers.

    .venv/bin/python tools/make_reapack_index.py [--base-url URL] [--check]

Packages are the scripts whose header has ``@version``; their ``@provides`` lines become
``<source>`` entries (``.`` is the script itself, ``[main]`` registers an action,
``[nomain]`` only installs the file, ``path > name`` installs ``path``, relative to
bridge/daw_scripts/reaper, as ``name`` beside the scripts: how the DAW-neutral
``../common/studio_bridge_core.lua`` gets next to ``studio_bridge.lua``).
``--check`` exits 1 when the committed index is stale.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from urllib.parse import urljoin
from xml.etree import ElementTree as ET

REPO = Path(__file__).resolve().parents[1]
SCRIPTS = REPO / "bridge" / "daw_scripts" / "reaper"
INDEX = SCRIPTS / "index.xml"
DEFAULT_BASE_URL = "https://raw.githubusercontent.com/studio-bridge/studio-bridge/main/bridge/daw_scripts/reaper"
"""Where the published files live; pass --base-url for a fork or a release tag."""
CATEGORY = "Studio Bridge"

sys.path.insert(0, str(REPO))
from bridge.daw.reaper_install import read_header  # noqa: E402


def provides(text: str) -> list[tuple[str, str, str]]:
    """``@provides`` lines -> [(option, file, installed name)] with option
    ``main``/``nomain``/``""``; the name is the file's own unless the line says ``> name``."""
    out = []
    for line in text.splitlines():
        m = re.match(r"^(?:\[(\w+)\]\s*)?(\S.*?)(?:\s+>\s+(\S.*))?$", line.strip())
        if m:
            file = m.group(2).strip()
            name = (m.group(3) or "").strip() or file.rsplit("/", 1)[-1]
            out.append((m.group(1) or "", file, name))
    return out


def build(base_url: str = DEFAULT_BASE_URL, scripts: Path = SCRIPTS) -> str:
    index = ET.Element("index", version="1", name="Studio Bridge")
    category = ET.SubElement(index, "category", name=CATEGORY)
    for path in sorted(scripts.glob("*.lua")):
        header = read_header(path)
        if "version" not in header or "noindex" in header:
            continue
        pkg = ET.SubElement(category, "reapack", name=path.name, type="script",
                            desc=header.get("description", path.stem))
        if header.get("about"):
            metadata = ET.SubElement(pkg, "metadata")
            ET.SubElement(metadata, "description").text = header["about"]
        version = ET.SubElement(pkg, "version", name=header["version"],
                                author=header.get("author", ""))
        for option, file, name in provides(header.get("provides", ".")) or [("", ".", ".")]:
            if file == ".":
                file = name = path.name
            if not (scripts / file).is_file():
                raise SystemExit(f"{path.name}: @provides names {file}, which does not exist")
            attrs = {"file": name}
            if option:
                # ReaPack: a section list registers the action there; "false" only installs
                attrs["main"] = "main" if option == "main" else "false"
            src = ET.SubElement(version, "source", attrs)
            src.text = urljoin(base_url.rstrip("/") + "/", file)
    ET.indent(index)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(index, "unicode") + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-url", default=DEFAULT_BASE_URL)
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args(argv)
    text = build(args.base_url)
    if args.check:
        current = INDEX.read_text(encoding="utf-8") if INDEX.exists() else ""
        if current != text:
            print(f"{INDEX} is stale: run tools/make_reapack_index.py", file=sys.stderr)
            return 1
        return 0
    INDEX.write_text(text, encoding="utf-8")
    print(f"wrote {INDEX}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
