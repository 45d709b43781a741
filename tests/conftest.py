import sys
from pathlib import Path

# tests import their helpers as plain modules (``from _support import ...``)
sys.path.insert(0, str(Path(__file__).resolve().parent))
