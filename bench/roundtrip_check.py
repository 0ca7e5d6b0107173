"""Quick correctness check after importer changes: import -> export -> import -> export must be byte-identical.

    python bench/roundtrip_check.py [--domains 2000] [--backend both]

Uses a demo file of N domains, an empty SQLite file under the work dir and the bench PostgreSQL database
(its public schema is recreated, as bench_import.py does). Also checks that both backends export the same bytes.
"""

from __future__ import annotations

import argparse
import io
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_import  # noqa: E402


def _roundtrip(backend: str, url: str, data: bytes) -> bytes:
    from domainpriv.audit import Actor
    from domainpriv.store.session import UnitOfWork, make_engine
    from domainpriv.transfer import export_registrations, import_registrations

    exports = []
    for source in (data, None):
        bench_import._reset(backend, url)
        engine = make_engine(url)
        lines = io.BytesIO(source if source is not None else exports[-1])
        import_registrations(UnitOfWork(engine), actor=Actor("cli", "bench"), lines=lines, reason="roundtrip")
        out = io.BytesIO()
        export_registrations(UnitOfWork(engine), out=out)
        exports.append(out.getvalue())
        engine.dispose()
    same = exports[0] == exports[1]
    print(
        f"{backend}: export 1 {len(exports[0]):,} bytes, export 2 {len(exports[1]):,} bytes, "
        f"{'identical' if same else 'DIFFERENT'}"
    )
    if not same:
        raise SystemExit(1)
    return exports[0]


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--domains", type=int, default=2000)
    p.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    p.add_argument("--pg-url", default=bench_import.DEFAULT_PG_URL)
    p.add_argument("--workdir", type=Path, default=bench_import.DEFAULT_WORKDIR)
    args = p.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    data = bench_import.generate(args.domains, 1, args.workdir).read_bytes()
    exports = {}
    if args.backend in ("sqlite", "both"):
        exports["sqlite"] = _roundtrip("sqlite", f"sqlite:///{args.workdir / 'roundtrip.db'}", data)
    if args.backend in ("postgresql", "both"):
        exports["postgresql"] = _roundtrip("postgresql", args.pg_url, data)
    if len(exports) == 2:
        same = exports["sqlite"] == exports["postgresql"]
        print(f"sqlite and postgresql exports {'identical' if same else 'DIFFERENT'}")
        if not same:
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
