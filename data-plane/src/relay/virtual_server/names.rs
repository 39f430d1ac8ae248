//! How a virtual server names its members' tools and prompts: with the member's slug in
//! front (`<slug>__<name>`) always, only where two members share a name, or never (then the
//! first member's wins).

use std::collections::{HashMap, HashSet};

use mcpgw_shared::model::{PREFIX_SEPARATOR, PrefixMode};

/// One name as clients see it, and where it comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exposed {
    /// The name clients see and call.
    pub name: String,
    /// The member's place among the virtual server's members.
    pub member: usize,
    /// The member's own name for it.
    pub original: String,
}

/// The names of every member's listing (`listed[i]` is member `i`'s, whose slug is
/// `slugs[i]`), as clients see them, in member order; a name that would be shown twice is
/// shown once, for the first member.
pub fn expose(slugs: &[&str], listed: &[Vec<String>], mode: PrefixMode) -> Vec<Exposed> {
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for names in listed {
        for name in names.iter().collect::<HashSet<_>>() {
            *counts.entry(name.as_str()).or_default() += 1;
        }
    }
    let mut seen = HashSet::new();
    let mut exposed = Vec::new();
    for (member, names) in listed.iter().enumerate() {
        for original in names {
            let prefixed = match mode {
                PrefixMode::Always => true,
                PrefixMode::OnConflict => counts.get(original.as_str()).copied() > Some(1),
                PrefixMode::Never => false,
            };
            let name = if prefixed {
                format!("{}{PREFIX_SEPARATOR}{original}", slugs[member])
            } else {
                original.clone()
            };
            if seen.insert(name.clone()) {
                exposed.push(Exposed {
                    name,
                    member,
                    original: original.clone(),
                });
            }
        }
    }
    exposed
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|n| (*n).to_owned()).collect()
    }

    fn shown(exposed: &[Exposed]) -> Vec<(&str, usize, &str)> {
        exposed
            .iter()
            .map(|e| (e.name.as_str(), e.member, e.original.as_str()))
            .collect()
    }

    #[test]
    fn each_mode_names_shared_and_own_tools_as_it_says() {
        let slugs = ["github", "jira"];
        let listed = [
            names(&["search", "create_pr"]),
            names(&["search", "create_issue"]),
        ];
        assert_eq!(
            shown(&expose(&slugs, &listed, PrefixMode::Always)),
            [
                ("github__search", 0, "search"),
                ("github__create_pr", 0, "create_pr"),
                ("jira__search", 1, "search"),
                ("jira__create_issue", 1, "create_issue"),
            ]
        );
        assert_eq!(
            shown(&expose(&slugs, &listed, PrefixMode::OnConflict)),
            [
                ("github__search", 0, "search"),
                ("create_pr", 0, "create_pr"),
                ("jira__search", 1, "search"),
                ("create_issue", 1, "create_issue"),
            ]
        );
        assert_eq!(
            shown(&expose(&slugs, &listed, PrefixMode::Never)),
            [
                ("search", 0, "search"),
                ("create_pr", 0, "create_pr"),
                ("create_issue", 1, "create_issue"),
            ]
        );
    }

    #[test]
    fn a_name_shown_twice_is_the_first_members() {
        let slugs = ["a", "b"];
        // b's own `a__x` collides with a's prefixed `x`.
        let listed = [names(&["x", "x"]), names(&["a__x", "x"])];
        assert_eq!(
            shown(&expose(&slugs, &listed, PrefixMode::OnConflict)),
            [("a__x", 0, "x"), ("b__x", 1, "x")]
        );
    }
}
