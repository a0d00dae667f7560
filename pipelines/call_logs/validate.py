"""The DuckDB query that parses and validates raw lines into typed call records.

DuckDB's JSON reader parses each line twice and Python never does: `json_type` with one path per
field gives every field's JSON type, and `from_json` with a declared structure gives the values.
Declared types matter: `read_json` infers types from the first rows and would round a later
2^53 + 1, and `from_json` alone casts leniently ("120" becomes 120, 87.5 becomes 88). So a value
is used only after its JSON type passed the check.

The query reads a relation `lines` (`spool.LINES_SCHEMA` plus `file_index`) and returns one row
per line, with `reason` null for a valid record, or every reason it is rejected, joined by "; ".
The rules are those of schemas/call_log_record.v1.json.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from pipelines.call_logs.settings import (
    CONTENT_FIELDS,
    MAX_BIGINT,
    MAX_TOKEN_COUNT,
    PROVIDERS,
    RECORD_FIELDS,
    RESERVED_CUSTOMER_IDS,
    SCHEMA_VERSION,
    TOKEN_FIELDS,
    RecordField,
)

# RFC 3339 date-time with a mandatory offset, the pattern of the JSON Schema. DuckDB's cast alone
# would also accept a missing offset or a space separator. The cast then rejects a day that does
# not exist, such as 2026-02-30.
OCCURRED_AT_PATTERN = (
    r"^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])[Tt]([01][0-9]|2[0-3]):[0-5][0-9]"
    r":[0-5][0-9](\.[0-9]+)?([Zz]|[+-]([01][0-9]|2[0-3]):[0-5][0-9])$"
)

REASON_INVALID_UTF8 = "invalid UTF-8: the line contains bytes that are not valid UTF-8"
REASON_INVALID_JSON = "invalid JSON: the line does not parse as JSON"
REASON_TRUNCATED = (
    "truncated last line: the file ends without a newline inside a line that does not parse"
)
REASON_NOT_OBJECT = "not a JSON object: the line is "

FROM_JSON_TYPES = {
    "string": "VARCHAR",
    "timestamp": "VARCHAR",
    "count": "UBIGINT",
    "version": "UBIGINT",
    "boolean": "BOOLEAN",
    "tags": "JSON",
}

# Position of each field's JSON type in the list that `json_type(line, paths)` returns. DuckDB
# lists start at 1, and position 1 is the whole line ('$').
TYPE_POSITION = {field.name: index + 2 for index, field in enumerate(RECORD_FIELDS)}


def sql_string(value: str) -> str:
    """`value` as a SQL string literal."""
    return "'" + value.replace("'", "''") + "'"


def sql_list(values: Iterable[str]) -> str:
    """`values` as a SQL list of string literals."""
    return "[" + ", ".join(sql_string(value) for value in values) + "]"


def json_type_of(name: str) -> str:
    """Return the column with field `name`'s JSON type ('VARCHAR', 'NULL', ...), null if absent."""
    return f"{name}_type"


def describe_value(name: str) -> str:
    """Build a SQL expression naming what a rejected field holds: its type, or the number itself.

    A string is named by its type only, because a misplaced string could be a prompt.
    """
    return (
        f"case {json_type_of(name)}"
        " when 'VARCHAR' then 'a string'"
        " when 'BOOLEAN' then 'a boolean'"
        " when 'ARRAY' then 'an array'"
        " when 'OBJECT' then 'an object'"
        " when 'NULL' then 'null'"
        f" else cast(json_extract(line_text, {sql_string('$.' + name)}) as varchar)"
        " end"
    )


def rejection(field: RecordField, expected: str) -> str:
    """Build the reason for a field of the wrong type: 'invalid <field>: expected ..., got ...'."""
    message = f"invalid {field.name}: expected {expected}, got "
    return f"{sql_string(message)} || ({describe_value(field.name)})"


def presence_branches(field: RecordField) -> list[str]:
    """Build the CASE branches for an absent field and for JSON null."""
    branches = []
    if field.required:
        missing = sql_string(f"missing required field {field.name}")
        branches.append(f"when {json_type_of(field.name)} is null then {missing}")
    else:
        branches.append(f"when {json_type_of(field.name)} is null then null")
    if field.nullable:
        branches.append(f"when {json_type_of(field.name)} = 'NULL' then null")
    return branches


def string_check(field: RecordField) -> list[str]:
    value = f"record.{field.name}"
    branches = [f"when {json_type_of(field.name)} <> 'VARCHAR' then {rejection(field, 'a string')}"]
    if field.required:
        empty = sql_string(f"invalid {field.name}: expected a non-empty string")
        branches.append(f"when length({value}) = 0 then {empty}")
    if field.max_length is not None:
        too_long = sql_string(
            f"invalid {field.name}: expected at most {field.max_length} characters, got "
        )
        branches.append(
            f"when length({value}) > {field.max_length} then {too_long} || length({value})"
        )
    if field.name == "provider":
        expected = "': expected " + ", ".join(PROVIDERS[:-1]) + " or " + PROVIDERS[-1]
        branches.append(
            f"when {value} not in ({', '.join(sql_string(p) for p in PROVIDERS)}) then"
            f" 'unknown provider ''' || left({value}, 64) || {sql_string(expected)}"
        )
    if field.name == "customer_id":
        branches.append(
            f"when {value} in ({', '.join(sql_string(c) for c in RESERVED_CUSTOMER_IDS)}) then"
            f" 'invalid customer_id: ''' || {value} || ''' is a reserved identifier'"
        )
    return branches


def timestamp_check(field: RecordField) -> list[str]:
    value = f"record.{field.name}"
    invalid = sql_string(
        f"invalid {field.name}: expected an RFC 3339 timestamp with an offset,"
        " like 2026-10-01T12:00:00Z, got '"
    )
    # A call dated later than that comes from a client whose clock runs ahead. Priced on its
    # future day, it would also move the re-pricing look-back of later runs.
    future = sql_string(
        f"invalid {field.name}: expected a time at most a day after the load, got '"
    )
    return [
        f"when {json_type_of(field.name)} <> 'VARCHAR' then"
        f" {rejection(field, 'an RFC 3339 timestamp string')}",
        f"when not regexp_matches({value}, {sql_string(OCCURRED_AT_PATTERN)})"
        f" or {field.name}_value is null then {invalid} || left({value}, 40) || ''''",
        f"when {field.name}_value > current_timestamp + interval 1 day"
        f" then {future} || left({value}, 40) || ''''",
    ]


def count_check(field: RecordField) -> list[str]:
    maximum = MAX_TOKEN_COUNT if field.name in TOKEN_FIELDS else MAX_BIGINT
    expected = f"a JSON integer from 0 to {maximum}"
    return [
        f"when {json_type_of(field.name)} = 'UBIGINT' and record.{field.name} <= {maximum}"
        " then null",
        f"else {rejection(field, expected)}",
    ]


def version_check(field: RecordField) -> list[str]:
    unsupported = sql_string(f": this loader reads version {SCHEMA_VERSION}")
    return [
        f"when {json_type_of(field.name)} <> 'UBIGINT' or record.{field.name} > {MAX_BIGINT}"
        f" then {rejection(field, 'a JSON integer')}",
        f"when record.{field.name} <> {SCHEMA_VERSION} then"
        f" 'unsupported {field.name} ' || record.{field.name} || {unsupported}",
    ]


def boolean_check(field: RecordField) -> list[str]:
    return [
        f"when {json_type_of(field.name)} <> 'BOOLEAN' then {rejection(field, 'true or false')}"
    ]


def tags_check(field: RecordField) -> list[str]:
    expected = "an object whose values are strings"
    not_string = sql_string(
        f"invalid {field.name}: expected {expected}, got a value that is not a string"
    )
    return [
        f"when {json_type_of(field.name)} <> 'OBJECT' then {rejection(field, expected)}",
        f"when len(list_filter(json_type(record.{field.name}, '$.*'),"
        f" lambda value_type: value_type <> 'VARCHAR')) > 0 then {not_string}",
    ]


CHECKS: dict[str, Callable[[RecordField], list[str]]] = {
    "string": string_check,
    "timestamp": timestamp_check,
    "count": count_check,
    "version": version_check,
    "boolean": boolean_check,
    "tags": tags_check,
}


def field_check(field: RecordField) -> str:
    """Build a SQL CASE expression that is null when the field is valid, else the reason."""
    return "case " + " ".join(presence_branches(field) + CHECKS[field.kind](field)) + " end"


def loaded_value(field: RecordField) -> str:
    """Build the SQL expression of a field's loaded value, with its default when absent."""
    name = field.name
    if field.kind == "timestamp":
        return f"{name}_value"
    if field.kind == "count":
        default = "null" if field.nullable else "0"
        return f"coalesce(try_cast(record.{name} as bigint), {default})"
    if field.kind == "version":
        return f"coalesce(try_cast(record.{name} as bigint), {SCHEMA_VERSION})"
    if field.kind == "boolean":
        return f"coalesce(record.{name}, false)"
    if field.kind == "tags":
        return f"coalesce(cast(record.{name} as varchar), '{{}}')"
    return f"record.{name}"


def parse_query() -> str:
    """Build the query from `lines` to one checked row per line (see the module docstring)."""
    paths = ["$", *(f"$.{field.name}" for field in RECORD_FIELDS)]
    # Content fields are read in the same from_json parse as the values, so json_type needs no
    # path for them. A JSON null counts as no content.
    structure = ", ".join(
        [f'"{field.name}": "{FROM_JSON_TYPES[field.kind]}"' for field in RECORD_FIELDS]
        + [f'"{name}": "JSON"' for name in CONTENT_FIELDS]
    )
    checks = ",\n                ".join(
        f"{field_check(field)}" for field in RECORD_FIELDS if field.name != "event_id"
    )
    content_names = ", ".join(
        f"case when record.{name} is not null then {sql_string(name)} end"
        for name in CONTENT_FIELDS
    )
    # One column per field type, so that the checks do not extract from the list again.
    field_types = ",\n        ".join(
        f"json_types[{position}] as {name}_type" for name, position in TYPE_POSITION.items()
    )
    top_description = (
        "case json_types[1] when 'ARRAY' then 'an array' when 'VARCHAR' then 'a string'"
        " when 'BOOLEAN' then 'a boolean' when 'NULL' then 'null' else 'a number' end"
    )
    values = ",\n    ".join(
        f"{loaded_value(field)} as {field.name}"
        for field in RECORD_FIELDS
        if field.name != "event_id"
    )
    return f"""
with decoded as (
    select
        file_index,
        line_number,
        is_unterminated,
        try(decode(line)) as line_text
    from lines
),

blank_marked as (
    select
        *,
        -- JSON whitespace only. trim() with a character list was 50 times slower than this
        -- regular expression on 1,000,000 lines with DuckDB 2.0.1.
        coalesce(regexp_full_match(line_text, '[ \\t\\r\\n]*'), false) as is_blank
    from decoded
),

typed as (
    select
        *,
        case
            when not is_blank then try(json_type(line_text, {sql_list(paths)}))
        end as json_types
    from blank_marked
),

extracted as (
    select
        *,
        {field_types},
        case
            when json_types[1] = 'OBJECT' then from_json(line_text, '{{{structure}}}')
        end as record
    from typed
),

converted as (
    select
        *,
        try_cast(upper(record.occurred_at) as timestamptz) as occurred_at_value,
        {field_check(RECORD_FIELDS[0])} as event_id_problem
    from extracted
),

checked as (
    select
        *,
        case
            when is_blank then null
            when line_text is null then {sql_string(REASON_INVALID_UTF8)}
            when json_types is null and is_unterminated then {sql_string(REASON_TRUNCATED)}
            when json_types is null then {sql_string(REASON_INVALID_JSON)}
            when json_types[1] <> 'OBJECT'
                then {sql_string(REASON_NOT_OBJECT)} || ({top_description})
            else nullif(concat_ws(
                '; ',
                event_id_problem,
                {checks}
            ), '')
        end as reason,
        nullif(concat_ws(',', {content_names}), '') as content_fields
    from converted
)

select
    file_index,
    line_number,
    is_blank,
    coalesce(json_types[1] = 'OBJECT', false) as is_object,
    reason,
    content_fields,
    case when event_id_problem is null then record.event_id end as event_id,
    {values}
from checked
"""
