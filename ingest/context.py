"""What a format loader gets, and the shared steps every loader ends with.

A format module parses a file into a temp table `_parsed` with the target table's columns
plus `line`, `reason` (NULL = valid), `skip` (valid but not ours to count, e.g. an unused
GitHub event) and `excerpt` (an allow-listed summary of the record, never prompt text).
`land()` then splits it into the raw table and the quarantine, inside the caller's transaction.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass
from datetime import datetime

import duckdb

from ingest.files import LandingFile, LineEndings, line_endings
from ingest.schema import sql_literal

# Text-bearing keys: everything from the first of these on is cut from a quarantine excerpt
# of a line we could not parse, so a broken record cannot leak its prompt into the warehouse.
_TEXT_KEYS = ("messages|input|output|response|prompt|completion|content|text|system|instructions|choices|candidates"
              "|contents|body|subject|description|summary|comment|comments|title|displayName|emailAddress|name|email"
              # tool calls: their arguments are model output and often quote the prompt
              "|tool_calls|tool_call|function_call|arguments|args|parameters|tools|tool_use|tool_result|parts"
              "|query|question")


# Identifier values masked in an excerpt (pseudonymised when the record is valid).
_ID_KEYS = "user|end_user|user_id|email|api_key|enduser.id|user.id|requester_id|assignee_id|accountId"


@dataclass
class Counts:
    records: int = 0
    loaded: int = 0
    quarantined: int = 0
    skipped: int = 0

    def add(self, other: "Counts") -> None:
        for k in ("records", "loaded", "quarantined", "skipped"):
            setattr(self, k, getattr(self, k) + getattr(other, k))


@dataclass
class LoadContext:
    con: duckdb.DuckDBPyConnection
    file: LandingFile
    file_hash: str
    loaded_at: datetime
    max_line_bytes: int

    def lineage(self) -> str:
        """SQL select-list of the lineage columns for this file (values are quoted literals)."""
        return (
            f"{sql_literal(self.file.rel)} AS _source_file, line AS _line, "
            f"{sql_literal(self.file_hash)} AS _file_hash, {sql_literal(self.loaded_at.isoformat(sep=' '))}::TIMESTAMP AS _loaded_at"
        )

    @property
    def line_ceiling(self) -> int:
        """The longest line the line reader accepts at all: longer lines up to here are quarantined
        one by one (they exceed `max_line_bytes`); a line beyond it makes the whole file unreadable."""
        return line_ceiling(self.max_line_bytes)

    def read_lines(self, ends: LineEndings | None = None) -> None:
        """Temp table `_lines(line, raw, nbytes)`: every physical line of the file with its 1-based
        number, decompressed by DuckDB, never split on any character a JSON line can hold.

        A line over `max_line_bytes` keeps only its first 200 characters plus '…' (never valid
        JSON, so nothing parses it) and is listed in `_line_problems(bad_line, problem)`, which
        NOT_A_JSON_OBJECT reports: the line is quarantined, the rest of the file loads.

        Line numbers are physical (LF, CRLF or mixed). DuckDB's CSV reader, its only streaming line
        reader (read_text holds a file in one value of at most 4 GiB and does not decompress),
        always breaks lines at CR: by default a CRLF in a file that starts with LF counts twice.
        `new_line='\\r\\n'` fixes that but fails in parallel on any LF file over one buffer
        (buffer_size), so files.line_endings picks it only for mixed files, single-threaded. The buffer is
        2 × the line ceiling (128 MiB): DuckDB's default, 16 × max_line_size = 1 GiB in one block, cannot be
        allocated under a TOKENPNL_MEMORY_LIMIT of 1GB, and every file would be quarantined.
        A CR inside a line of an LF file is numbered wrongly in every mode: that file is refused, as
        is one whose row count differs from the scan's (a reader slip at a buffer boundary)."""
        ends = line_endings(self.file)
        if ends and ends.stray_cr_line:
            raise _unreadable(f"line {ends.stray_cr_line} holds a carriage return (CR) that does not end it, so its "
                              "lines cannot be numbered reliably; the whole file is quarantined (end lines with LF or CRLF)")
        mode = ", new_line='\\r\\n', parallel=false" if ends and ends.mixed else ""
        cap = int(self.max_line_bytes)
        self.con.execute(
            f"""CREATE OR REPLACE TEMP TABLE _lines AS
            SELECT line, CASE WHEN nbytes > {cap} THEN left(raw, 200) || '…' ELSE raw END AS raw, nbytes
            FROM (SELECT row_number() OVER () AS line, raw, strlen(raw) AS nbytes
                  FROM read_csv({sql_literal(self.file.duckdb_path)}, columns={{'raw': 'VARCHAR'}}, header=false,
                                delim='\\x01', quote='', escape='', auto_detect=false, strict_mode=false,
                                max_line_size={self.line_ceiling}, buffer_size={2 * self.line_ceiling},
                                compression='auto'{mode}))"""
        )
        (read,) = self.con.execute("SELECT count(*) FROM _lines").fetchone()
        if ends and read != ends.lines:
            raise _unreadable(f"DuckDB's line reader returned {read} lines where the file has {ends.lines}, so line "
                              "numbers would be wrong; the whole file is quarantined")
        self.con.execute(
            f"""CREATE OR REPLACE TEMP TABLE _line_problems AS
            SELECT line AS bad_line, 'line of ' || nbytes || ' bytes exceeds the cap of {cap} bytes (TOKENPNL_MAX_LINE_BYTES)' AS problem
            FROM _lines WHERE nbytes > {cap}"""
        )

    def read_json_lines(self, texts: tuple[str, ...] = (), jsons: tuple[str, ...] = ()) -> None:
        """Temp view `_records(line, raw, j, problem, s, o)`: every non-blank line, `j` its JSON,
        `problem` why it is not a JSON object (NULL when it is; NOT_A_JSON_OBJECT reports it), `s`
        the values at the dotted paths `texts` as text and `o` those at `jsons` as JSON (SQL NULL when
        absent or null): a format reads its fields from one parse of each line.

        A format that names its fields this way gets a file of well-formed lines, one object each,
        read by DuckDB's JSON reader straight into `s` and `o` (`raw` and `j` NULL: a valid record
        needs nothing else), one C parse per line instead of the line reader, `json_valid`, a cast
        and the field extraction. A file it cannot take whole (a blank, malformed or oversized line,
        a non-object, a duplicate key, a BOM, invalid UTF-8) goes through the line reader, which
        finds each line's problem."""
        ends = line_endings(self.file, self.max_line_bytes)
        if (texts or jsons) and ends and not ends.stray_cr_line and not ends.over_cap:
            if self._read_whole_records(ends.lines, texts, jsons):
                return
        self.read_lines(ends)
        self.con.execute(
            f"CREATE OR REPLACE TEMP VIEW _records AS SELECT line, raw, j, {LINE_PROBLEM} AS problem, "
            f"{fields_of_json('j', texts, jsons)} FROM (SELECT line, raw, "
            f"CASE WHEN nbytes <= {int(self.max_line_bytes)} AND json_valid(raw) THEN raw::JSON END AS j "
            "FROM _lines WHERE raw IS NOT NULL AND trim(raw) <> '')"
        )

    def _read_whole_records(self, lines: int, texts: tuple[str, ...], jsons: tuple[str, ...]) -> bool:
        """`_records` from DuckDB's JSON reader; False (and nothing read) when it refuses the file
        or returns another number of records than the file has lines (a blank line)."""
        columns, s, o = _reader_fields(texts, jsons)
        try:
            self.con.execute(
                f"""CREATE OR REPLACE TEMP TABLE _json_records AS
                SELECT row_number() OVER () AS line, NULL::VARCHAR AS raw, NULL::JSON AS j, NULL::VARCHAR AS problem, {s}, {o}
                FROM read_json({sql_literal(self.file.duckdb_path)}, format='newline_delimited', columns={columns},
                               compression='auto_detect')"""
            )
        except duckdb.Error:
            self._restart_transaction()
            return False
        (read,) = self.con.execute("SELECT count(*) FROM _json_records").fetchone()
        if read != lines:
            self.con.execute("DROP TABLE _json_records")
            return False
        self.con.execute("CREATE OR REPLACE TEMP VIEW _records AS SELECT * FROM _json_records")
        return True

    def _restart_transaction(self) -> None:
        """After a failed statement DuckDB refuses everything else in the transaction. The JSON
        reader is the first statement of the file's transaction (ingest.load), so a new one loses nothing."""
        try:
            self.con.execute("ROLLBACK")
        except duckdb.TransactionException:
            return  # no transaction open: the failed statement took nothing with it
        self.con.execute("BEGIN")


def fields_of_json(j: str, texts: tuple[str, ...], jsons: tuple[str, ...]) -> str:
    """SQL select-list `s, o` of read_json_lines from the JSON column `j` (see there)."""
    s = f"json_extract_string({j}, {json_paths(texts)})" if texts else "NULL::VARCHAR[]"
    o = (f"list_transform(json_extract({j}, {json_paths(jsons)}), x -> CASE WHEN json_type(x) <> 'NULL' THEN x END)"
         if jsons else "NULL::JSON[]")
    return f"{s} AS s, {o} AS o"


_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _reader_fields(texts: tuple[str, ...], jsons: tuple[str, ...]) -> tuple[str, str, str]:
    """read_json's `columns` for the top-level keys of `texts` and `jsons`, and the SQL of `s`
    and `o` over them: a key read as text when only its own value is wanted as text, else as JSON
    (a nested path is then extracted from that small document)."""
    for path in (*texts, *jsons):
        if not all(_KEY.fullmatch(k) for k in path.split(".")):
            raise ValueError(f"field path {path!r}: keys must be identifiers joined by dots")
    key_of = {p: p.partition(".")[0] for p in (*texts, *jsons)}  # each path's top-level key
    as_json = {key_of[p] for p in (*jsons, *(t for t in texts if "." in t))}
    columns = {key: "JSON" if key in as_json else "VARCHAR" for key in key_of.values()}

    def text(path: str) -> str:
        top, _, rest = path.partition(".")
        if top not in as_json:
            return f'"{top}"'
        return f"json_extract_string(\"{top}\", '$.{rest}')" if rest else f"(\"{top}\"->>'$')"

    def document(path: str) -> str:
        top, _, rest = path.partition(".")
        return f"json_extract(\"{top}\", '$.{rest}')" if rest else f'"{top}"'

    spec = "{" + ", ".join(f"{sql_literal(k)}: '{t}'" for k, t in columns.items()) + "}"
    s = f"[{', '.join(map(text, texts))}]" if texts else "NULL::VARCHAR[]"
    o = f"[{', '.join(map(document, jsons))}]" if jsons else "NULL::JSON[]"
    return spec, f"{s} AS s", f"{o} AS o"


HARD_LINE_FLOOR = 64 * 1024 * 1024


def line_ceiling(max_line_bytes: int) -> int:
    """max(4 × the cap, 64 MiB): lines between the cap and this are quarantined alone."""
    return max(4 * int(max_line_bytes), HARD_LINE_FLOOR)


# Why a line of `_lines` is not a JSON object, over its `line` and `j` (its JSON, NULL when not
# valid): a line over TOKENPNL_MAX_LINE_BYTES has its reason in `_line_problems` (see read_lines).
LINE_PROBLEM = (
    "CASE WHEN j IS NULL AND line IN (SELECT bad_line FROM _line_problems) "
    "THEN (SELECT min(problem) FROM _line_problems WHERE bad_line = line) "
    "WHEN j IS NULL THEN 'malformed JSON' WHEN json_type(j) <> 'OBJECT' THEN 'record is not a JSON object' END"
)

# The first check of every JSON-lines format (a CASE fragment over `_records.problem`).
NOT_A_JSON_OBJECT = "WHEN problem IS NOT NULL THEN problem"


def excerpt_sql(summary_json: str) -> str:
    """The quarantine excerpt of a JSON record: an allow-listed summary of an object; nothing of a
    JSON array or scalar, nor of a line that does not start an object (e.g. the rest of a prompt
    broken by a raw newline); of a broken object its redacted start."""
    return (
        f"CASE WHEN problem IS NULL THEN ({summary_json})::VARCHAR "
        "WHEN j IS NOT NULL THEN '(a JSON ' || lower(json_type(j)) || ', content removed)' "
        "WHEN NOT starts_with(ltrim(raw), '{') THEN '(not the start of a JSON object, content removed)' "
        f"ELSE {redacted_excerpt_sql('raw')} END"
    )


def json_paths(fields: tuple[str, ...]) -> str:
    """A SQL list of JSON paths, for `json_extract_string(j, <list>)`: every field of a record read
    with one parse of the record (one `->>` each would parse it once per field)."""
    return "[" + ", ".join(f"'$.{f}'" for f in fields) + "]"


def list_item(list_col: str, fields: tuple[str, ...], name: str) -> str:
    """The element of `list_col` (a list extracted with json_paths(fields)) that holds `name`."""
    return f"{list_col}[{fields.index(name) + 1}]"


def _unreadable(reason: str) -> duckdb.Error:
    """A file DuckDB reads wrongly rather than not at all: ingest.load quarantines any file whose
    load raises duckdb.Error whole, rolling back what was loaded of it, with the message as reason."""
    return duckdb.InvalidInputException(reason)



def redacted_excerpt_sql(raw_col: str) -> str:
    """An excerpt of an unparseable line: identifiers masked, anything after a text-bearing key cut."""
    masked = f"regexp_replace({raw_col}, '\"({_ID_KEYS})\"\\s*:\\s*\"[^\"]*\"?', '\"\\1\": \"<removed>\"', 'gi')"
    return f"left(regexp_replace({masked}, '\"({_TEXT_KEYS})\"\\s*:.*$', '\"\\1\": <removed>', 'i'), 300)"


def install_macros(con: duckdb.DuckDBPyConnection, key: bytes) -> None:
    """SQL helpers every loader uses: strict JSON integers, RFC 3339 timestamps, and the
    keyed pseudonymisation of user identifiers (HMAC-SHA256, done inside DuckDB)."""
    block = key if len(key) <= 64 else hashlib.sha256(key).digest()
    block = block.ljust(64, b"\0")
    ipad = bytes(b ^ 0x36 for b in block).hex()
    opad = bytes(b ^ 0x5C for b in block).hex()
    con.execute(
        f"""
        -- A whole number as text ('12', '-3', '12.0'), else NULL (also beyond BIGINT). Not via DECIMAL: slow.
        CREATE OR REPLACE TEMP MACRO int_text(s) AS
            CASE WHEN regexp_full_match(s, '-?[0-9]+') THEN try_cast(s AS BIGINT)
                 WHEN regexp_full_match(s, '-?[0-9]+\\.0+') THEN try_cast(split_part(s, '.', 1) AS BIGINT) END;
        CREATE OR REPLACE TEMP MACRO json_int(j, p) AS int_text(json_extract_string(j, p));
        CREATE OR REPLACE TEMP MACRO json_has(j, p) AS json_extract_string(j, p) IS NOT NULL;
        CREATE OR REPLACE TEMP MACRO has_offset(s) AS regexp_matches(trim(s), '(Z|z|[+-][0-9]{{2}}(:?[0-9]{{2}})?)$');
        CREATE OR REPLACE TEMP MACRO utc_ts(s) AS timezone('UTC', try_cast(trim(s) AS TIMESTAMPTZ));
        CREATE OR REPLACE TEMP MACRO ts_problem(s, what) AS
            CASE WHEN s IS NULL THEN 'missing ' || what
                 WHEN NOT has_offset(s) THEN what || ' has no UTC offset: ' || left(s, 40)
                 WHEN utc_ts(s) IS NULL THEN what || ' is not an RFC 3339 timestamp: ' || left(s, 40) END;
        CREATE TEMP TABLE IF NOT EXISTS _line_problems (bad_line BIGINT, problem VARCHAR);
        CREATE OR REPLACE TEMP MACRO pseudonymise(v) AS
            CASE WHEN v IS NULL OR v = '' THEN NULL
                 ELSE sha256(unhex('{opad}') || unhex(sha256(unhex('{ipad}') || encode(v)))) END;
        """
    )


def pseudonymise_py(key: bytes, value: str) -> str:
    """The same pseudonym computed in Python (for tests and for users joining their own data)."""
    return hmac.new(key, value.encode(), hashlib.sha256).hexdigest()


def land(ctx: LoadContext, target: str, columns: list[str], source_format: str) -> Counts:
    """Move `_parsed` into `target` (valid rows) and raw.quarantine (invalid rows)."""
    con = ctx.con
    cols = ", ".join(columns)
    con.execute(f"INSERT INTO {target} ({cols}, _source_file, _line, _file_hash, _loaded_at) "
                f"SELECT {cols}, {ctx.lineage()} FROM _parsed WHERE reason IS NULL AND NOT skip ORDER BY line")
    quarantine(ctx, source_format, "SELECT line, reason, excerpt FROM _parsed WHERE reason IS NOT NULL")
    (records, loaded, bad, skipped) = con.execute(
        "SELECT count(*), count(*) FILTER (reason IS NULL AND NOT skip), count(*) FILTER (reason IS NOT NULL), "
        "count(*) FILTER (reason IS NULL AND skip) FROM _parsed"
    ).fetchone()
    return Counts(records, loaded, bad, skipped)


def quarantine(ctx: LoadContext, source_format: str | None, select_sql: str) -> None:
    """Insert quarantine rows from a query yielding (line, reason, excerpt)."""
    fmt = "NULL" if source_format is None else sql_literal(source_format)
    ctx.con.execute(
        f"INSERT INTO raw.quarantine SELECT {sql_literal(ctx.file.rel)}, q.line, {sql_literal(ctx.file.kind)}, {fmt}, "
        f"q.reason, q.excerpt, {sql_literal(ctx.file_hash)}, {sql_literal(ctx.loaded_at.isoformat(sep=' '))}::TIMESTAMP "
        f"FROM ({select_sql}) q ORDER BY q.line"
    )


def quarantine_file(ctx: LoadContext, reason: str, source_format: str | None = None) -> Counts:
    quarantine(ctx, source_format, f"SELECT 0 AS line, {sql_literal(reason)} AS reason, NULL AS excerpt")
    return Counts(records=0, quarantined=1)
