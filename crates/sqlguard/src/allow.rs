//! What agents' SQL may call: functions and cast types, per dialect. A name that is not here
//! is refused; the lists hold only functions that compute on their arguments (no file, network,
//! session-setting, catalog or sleep functions, nothing that reads another database).

use crate::Dialect;

/// Functions both databases share.
const COMMON: &[&str] = &[
    "abs",
    "avg",
    "ceil",
    "ceiling",
    "coalesce",
    "count",
    "cume_dist",
    "dense_rank",
    "first_value",
    "floor",
    "lag",
    "last_value",
    "lead",
    "length",
    "lower",
    "ltrim",
    "max",
    "min",
    "nth_value",
    "ntile",
    "nullif",
    "percent_rank",
    "rank",
    "replace",
    "round",
    "row_number",
    "rtrim",
    "sign",
    "substr",
    "sum",
    "trim",
    "upper",
];

const SQLITE: &[&str] = &[
    "char",
    "date",
    "datetime",
    "format",
    "glob",
    "group_concat",
    "hex",
    "ifnull",
    "iif",
    "instr",
    "json_array_length",
    "json_extract",
    "julianday",
    "like",
    "printf",
    "strftime",
    "string_agg",
    "time",
    "total",
    "typeof",
    "unicode",
    "unixepoch",
];

const POSTGRES: &[&str] = &[
    "array_agg",
    "bool_and",
    "bool_or",
    "btrim",
    "char_length",
    "character_length",
    "concat",
    "concat_ws",
    "date_part",
    "date_trunc",
    "every",
    "greatest",
    "initcap",
    "least",
    "left",
    "lpad",
    "now",
    "octet_length",
    "right",
    "rpad",
    "split_part",
    "string_agg",
    "strpos",
    "to_char",
    "to_date",
    "to_timestamp",
];

/// Whether agents may call the function `name` (lower-cased, unqualified).
pub(crate) fn function(dialect: Dialect, name: &str) -> bool {
    COMMON.contains(&name)
        || match dialect {
            Dialect::Sqlite => SQLITE.contains(&name),
            Dialect::Postgres => POSTGRES.contains(&name),
        }
}

/// Whether agents may cast to `ty` (its SQL text, lower-cased): plain scalar types only (a cast
/// to `regclass` or `regproc` would look names up in the catalog).
pub(crate) fn cast(ty: &str) -> bool {
    let base = ty.split(['(', ' ']).next().unwrap_or_default();
    matches!(
        base,
        "int"
            | "integer"
            | "bigint"
            | "smallint"
            | "int2"
            | "int4"
            | "int8"
            | "real"
            | "float"
            | "float4"
            | "float8"
            | "double"
            | "numeric"
            | "decimal"
            | "text"
            | "varchar"
            | "char"
            | "character"
            | "boolean"
            | "bool"
            | "date"
            | "time"
            | "timestamp"
            | "timestamptz"
            | "blob"
    )
}
