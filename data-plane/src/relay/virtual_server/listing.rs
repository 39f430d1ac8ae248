//! A virtual server's merged listings: what each section lists and under which field, the
//! members' items as clients see them (prefixed names, members' tool policies applied), and
//! where each name comes from.

use mcpgw_shared::ServerId;
use mcpgw_shared::model::{PrefixMode, VirtualServer};
use serde_json::{Value, json};

use super::names::{Exposed, expose};
use crate::snapshot::{ToolAnnotations, ToolPolicy};

/// What a listing lists, and under which field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) enum Section {
    Tools,
    Prompts,
    Resources,
    Templates,
}

impl Section {
    pub(super) fn of(method: &str) -> Option<Self> {
        Some(match method {
            "tools/list" => Self::Tools,
            "prompts/list" => Self::Prompts,
            "resources/list" => Self::Resources,
            "resources/templates/list" => Self::Templates,
            _ => return None,
        })
    }

    pub(super) fn method(self) -> &'static str {
        match self {
            Self::Tools => "tools/list",
            Self::Prompts => "prompts/list",
            Self::Resources => "resources/list",
            Self::Templates => "resources/templates/list",
        }
    }

    pub(super) fn field(self) -> &'static str {
        match self {
            Self::Tools => "tools",
            Self::Prompts => "prompts",
            Self::Resources => "resources",
            Self::Templates => "resourceTemplates",
        }
    }

    /// The field that names an item: renamed with prefixes for tools and prompts, matched as
    /// it is for resources.
    pub(super) fn key(self) -> &'static str {
        match self {
            Self::Tools | Self::Prompts => "name",
            Self::Resources => "uri",
            Self::Templates => "uriTemplate",
        }
    }

    pub(super) fn prefixed(self) -> bool {
        matches!(self, Self::Tools | Self::Prompts)
    }
}

/// A merged listing.
pub(super) struct Listing {
    /// The items as clients see them.
    pub(super) items: Vec<Value>,
    /// Where each comes from: the name and the member's id.
    origins: Vec<(Exposed, ServerId)>,
    /// Members that failed (open).
    pub(super) failed: Vec<Value>,
}

impl Listing {
    pub(super) fn merge(
        kind: Section,
        slugs: &[String],
        listed: Vec<Vec<Value>>,
        ids: Vec<ServerId>,
        members: &VirtualServer,
        tools: &ToolPolicy,
        failed: Vec<Value>,
    ) -> Self {
        let key = kind.key();
        let names: Vec<Vec<String>> = listed
            .iter()
            .map(|items| {
                items
                    .iter()
                    .filter_map(|i| i.get(key).and_then(Value::as_str).map(str::to_owned))
                    .collect()
            })
            .collect();
        let slugs: Vec<&str> = slugs.iter().map(String::as_str).collect();
        let mode = if kind.prefixed() {
            members.prefix
        } else {
            PrefixMode::Never
        };
        let mut items = Vec::new();
        let mut origins = Vec::new();
        for exposed in expose(&slugs, &names, mode) {
            if kind == Section::Tools && !tools.permits(&exposed.name) {
                continue;
            }
            let Some(mut item) = listed[exposed.member]
                .iter()
                .find(|i| i.get(key).and_then(Value::as_str) == Some(exposed.original.as_str()))
                .cloned()
            else {
                continue;
            };
            item[key] = json!(exposed.name);
            items.push(item);
            let member = ids[exposed.member];
            origins.push((exposed, member));
        }
        Self {
            items,
            origins,
            failed,
        }
    }

    /// The member's id and its own name of the item clients call `name`.
    pub(super) fn origin(&self, name: &str) -> Option<(&Exposed, ServerId)> {
        self.origins
            .iter()
            .find(|(e, _)| e.name == name)
            .map(|(e, id)| (e, *id))
    }
}

/// Tools of a member listing as its policy shows them: hidden ones left out, overridden
/// names and descriptions shown; the upstream's name is kept in `_meta` for the call.
pub(super) fn shown_tools(items: Vec<Value>, policy: &ToolPolicy) -> Vec<Value> {
    items
        .into_iter()
        .filter_map(|mut tool| {
            let name = tool.get("name")?.as_str()?.to_owned();
            let annotations: ToolAnnotations = tool
                .get("annotations")
                .and_then(|a| serde_json::from_value(a.clone()).ok())
                .unwrap_or_default();
            if !policy.permits(&name)
                || policy.shadowed(&name)
                || policy.admits(&annotations).is_err()
            {
                return None;
            }
            if let Some(shown) = policy.presentation(&name) {
                if let Some(new_name) = &shown.name {
                    tool["name"] = json!(new_name);
                }
                if let Some(description) = &shown.description {
                    tool["description"] = json!(description);
                }
            }
            Some(tool)
        })
        .collect()
}
