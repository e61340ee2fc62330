"""A site directory in which the example admission plugin (examples/admission-plugin) is
an installed distribution: its ``.dist-info`` with the ``kapi.admission`` entry point,
beside its source directory. Put both on ``sys.path`` (or PYTHONPATH) and
``importlib.metadata`` finds the entry point as after ``pip install``."""

from __future__ import annotations

from pathlib import Path

EXAMPLE_SRC = Path(__file__).resolve().parents[1] / "examples" / "admission-plugin" / "src"


def make_site(root: Path) -> list[Path]:
    """The paths to add: the site (distribution metadata) and the example's sources."""
    info = root / "kapi_admission_example-0.1.0.dist-info"
    info.mkdir(parents=True, exist_ok=True)
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: kapi-admission-example\nVersion: 0.1.0\n"
    )
    (info / "entry_points.txt").write_text(
        "[kapi.admission]\nexample-configmap-policy = kapi_admission_example:ConfigMapPolicy\n"
    )
    return [root, EXAMPLE_SRC]
