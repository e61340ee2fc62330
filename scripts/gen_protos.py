"""Regenerate kapi_proto/ (Python, gRPC stubs and .pyi) from protos/.

Run: ``python scripts/gen_protos.py``. ``--check`` fails when the checked-in
code differs from what the protos generate (CI runs it through the tests).
"""

from __future__ import annotations

import argparse
import filecmp
import shutil
import sys
import tempfile
from pathlib import Path

from grpc_tools import protoc  # type: ignore[import-untyped]

ROOT = Path(__file__).resolve().parent.parent
PROTOS = ROOT / "protos"
OUT = ROOT / "kapi_proto"


def generate(out_root: Path) -> Path:
    sources = sorted(str(p.relative_to(PROTOS)) for p in (PROTOS / "kapi_proto").glob("*.proto"))
    include = Path(protoc.__file__).parent / "_proto"
    code = protoc.main(
        [
            "protoc",
            f"-I{PROTOS}",
            f"-I{include}",
            f"--python_out={out_root}",
            f"--pyi_out={out_root}",
            f"--grpc_python_out={out_root}",
            *sources,
        ]
    )
    if code != 0:
        raise SystemExit(f"protoc failed with {code}")
    pkg = out_root / "kapi_proto"
    (pkg / "__init__.py").write_text(
        '"""Generated from protos/ by scripts/gen_protos.py; do not edit."""\n'
    )
    (pkg / "py.typed").write_text("")
    return pkg


def differs(a: Path, b: Path) -> list[str]:
    cmp = filecmp.dircmp(a, b, ignore=["__pycache__"])
    out = [*cmp.left_only, *cmp.right_only, *cmp.diff_files]
    return sorted(out)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        fresh = generate(Path(tmp))
        if args.check:
            stale = differs(fresh, OUT) if OUT.exists() else ["kapi_proto/ missing"]
            if stale:
                print("kapi_proto/ is stale; run python scripts/gen_protos.py:", *stale)
                return 1
            return 0
        if OUT.exists():
            shutil.rmtree(OUT)
        shutil.copytree(fresh, OUT)
    return 0


if __name__ == "__main__":
    sys.exit(main())
