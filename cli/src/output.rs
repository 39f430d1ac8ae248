//! Printing answers: the API's JSON documents as JSON, YAML or a table. A list document
//! (`{"servers": [...], …}`) prints one row per item; any other document one row of its own.

use comfy_table::{ContentArrangement, Table};
use serde_json::Value;

use crate::command::Format;

/// Columns shown in a table, in this order, when a document has them.
const COLUMNS: &[&str] = &[
    "step",
    "status",
    "detail",
    "fix",
    "id",
    "seq",
    "type",
    "name",
    "slug",
    "workspace_id",
    "user_id",
    "url",
    "enabled",
    "key_type",
    "permissions",
    "state",
    "revoked",
    "version",
    "stream",
    "actor",
    "at",
    "created_at",
    "signed_out",
    "refreshed_at",
    "token",
    "key",
    "nats_seed",
];

/// `document` in `format`.
pub fn render(document: &Value, format: Format) -> String {
    match format {
        Format::Json => serde_json::to_string_pretty(document).expect("JSON values serialize"),
        Format::Yaml => serde_yaml_ng::to_string(document).expect("JSON values serialize as YAML"),
        Format::Table => table(document),
    }
}

fn table(document: &Value) -> String {
    let rows: Vec<&Value> = match list_of(document) {
        Some(items) => items.iter().collect(),
        None => vec![document],
    };
    let columns: Vec<&str> = COLUMNS
        .iter()
        .copied()
        .filter(|c| rows.iter().any(|row| row.get(c).is_some()))
        .collect();
    if columns.is_empty() {
        return serde_json::to_string_pretty(document).expect("JSON values serialize");
    }
    let mut table = Table::new();
    table
        .load_style(comfy_table::presets::NOTHING)
        .set_content_arrangement(ContentArrangement::Disabled)
        .set_header(columns.iter().map(|c| c.to_uppercase()));
    for row in rows {
        table.add_row(columns.iter().map(|c| cell(row.get(c))));
    }
    table.to_string()
}

/// The array of a list document: its only array field.
fn list_of(document: &Value) -> Option<&Vec<Value>> {
    let object = document.as_object()?;
    let mut arrays = object.values().filter_map(Value::as_array);
    let first = arrays.next()?;
    arrays.next().is_none().then_some(first)
}

fn cell(value: Option<&Value>) -> String {
    match value {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| cell(Some(v)))
            .collect::<Vec<_>>()
            .join(","),
        Some(other) => other.to_string(),
    }
}

#[cfg(test)]
mod tests;
