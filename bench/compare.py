"""The bench's correctness guard: the floor's marts must equal tokenpnl's published ones exactly.

Rows are compared as multisets (EXCEPT ALL both ways) over the published columns, in DuckDB:
DECIMAL money digit for digit, DOUBLE ratios bit for bit (both sides divide the same integers).
"""

from __future__ import annotations

from pathlib import Path

import duckdb

MARTS = ("token_pnl_daily", "cost_per_verified_success")


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def compare(published: Path, floor: Path, marts: tuple[str, ...] = MARTS, examples: int = 3) -> dict:
    """{mart: {rows, floor_rows, only_tokenpnl, only_floor, columns_equal, column_problems, examples}} plus
    'equal' (all marts identical) and 'quarantined' (rows in tokenpnl's marts.quarantine)."""
    con = duckdb.connect()
    try:
        con.execute(f"ATTACH '{published}' AS t (READ_ONLY)")
        con.execute(f"ATTACH '{floor}' AS f (READ_ONLY)")
        report: dict = {"equal": True}
        for mart in marts:
            cols_t = con.execute(f"SELECT column_name, column_type FROM (DESCRIBE t.marts.{mart})").fetchall()
            cols_f = dict(con.execute(f"SELECT column_name, column_type FROM (DESCRIBE f.marts.{mart})").fetchall())
            problems = [f"{c} missing in the floor" for c, _ in cols_t if c not in cols_f]
            problems += [f"{c}: {ty} vs floor {cols_f[c]}" for c, ty in cols_t if c in cols_f and cols_f[c] != ty]
            problems += [f"{c} only in the floor" for c in cols_f if c not in dict(cols_t)]
            cols = ", ".join(_q(c) for c, _ in cols_t if c in cols_f)
            diff_t = f"SELECT {cols} FROM t.marts.{mart} EXCEPT ALL SELECT {cols} FROM f.marts.{mart}"
            diff_f = f"SELECT {cols} FROM f.marts.{mart} EXCEPT ALL SELECT {cols} FROM t.marts.{mart}"
            entry = {
                "rows": con.execute(f"SELECT count(*) FROM t.marts.{mart}").fetchone()[0],
                "floor_rows": con.execute(f"SELECT count(*) FROM f.marts.{mart}").fetchone()[0],
                "only_tokenpnl": con.execute(f"SELECT count(*) FROM ({diff_t})").fetchone()[0],
                "only_floor": con.execute(f"SELECT count(*) FROM ({diff_f})").fetchone()[0],
                "columns_equal": not problems, "column_problems": problems,
            }
            if entry["only_tokenpnl"] or entry["only_floor"]:
                entry["examples"] = {
                    "tokenpnl": [[str(v) for v in r] for r in con.execute(f"{diff_t} ORDER BY ALL LIMIT {examples}").fetchall()],
                    "floor": [[str(v) for v in r] for r in con.execute(f"{diff_f} ORDER BY ALL LIMIT {examples}").fetchall()],
                }
            report[mart] = entry
            report["equal"] &= not problems and not entry["only_tokenpnl"] and not entry["only_floor"] and entry["rows"] > 0
        report["quarantined"] = con.execute("SELECT count(*) FROM t.marts.quarantine").fetchone()[0]
        return report
    finally:
        con.close()


def summary(report: dict) -> str:
    """One line per mart, for the console."""
    lines = []
    for mart in MARTS:
        e = report.get(mart)
        if not e:
            continue
        state = "equal" if e["columns_equal"] and not (e["only_tokenpnl"] or e["only_floor"]) else "DIFFERENT"
        lines.append(f"{mart}: {state} ({e['rows']} rows tokenpnl, {e['floor_rows']} floor; "
                     f"{e['only_tokenpnl']} only in tokenpnl, {e['only_floor']} only in the floor)"
                     + ("; columns: " + "; ".join(e["column_problems"]) if e["column_problems"] else ""))
        for side, rows in e.get("examples", {}).items():
            lines += [f"    {side}: {r}" for r in rows]
    lines.append(f"quarantine rows in tokenpnl's publication: {report.get('quarantined')}")
    return "\n".join(lines)
