//! What `deploy/` promises, checked against the code: the settings table names exactly the
//! variables the binaries read (with their defaults), every manifest sets only variables a
//! binary reads and every required one of its plane, the example NATS configurations load in
//! nats-server, the images run as non-root with a health check, and the data-plane image's
//! package depends on no control-plane code.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use clap::CommandFactory;

/// The repository root.
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ sits in the repository")
        .to_owned()
}

/// Which planes read a variable, and the default its flag declares.
#[derive(Debug, Default)]
struct Read {
    planes: BTreeSet<&'static str>,
    default: Option<String>,
}

/// Every `MCPGW_*` variable the binaries read, from their clap definitions.
fn read_by_binaries() -> BTreeMap<String, Read> {
    fn walk(command: &clap::Command, plane: &'static str, into: &mut BTreeMap<String, Read>) {
        // `standalone` runs both planes in one process; its variables are each plane's own.
        if command.get_name() == "standalone" || command.get_name() == "health" {
            return;
        }
        for arg in command.get_arguments() {
            let Some(env) = arg.get_env().and_then(|e| e.to_str()) else {
                continue;
            };
            let read = into.entry(env.to_owned()).or_default();
            read.planes.insert(plane);
            if let Some(default) = arg.get_default_values().first() {
                read.default = Some(default.to_string_lossy().into_owned());
            }
        }
        for sub in command.get_subcommands() {
            walk(sub, plane, into);
        }
    }
    let mut read = BTreeMap::new();
    walk(
        &mcpgw_control_plane::config::Cli::command(),
        "CP",
        &mut read,
    );
    walk(&mcpgw_data_plane::config::Cli::command(), "DP", &mut read);
    walk(&mcpgw_cli::Cli::command(), "CLI", &mut read);
    let log = read
        .entry(mcpgw_shared::telemetry::LOG_FORMAT_VAR.to_owned())
        .or_default();
    log.planes.extend(["CP", "DP"]);
    read
}

/// One row of `deploy/README.md`'s settings table.
#[derive(Debug)]
struct Row {
    planes: BTreeSet<String>,
    default: String,
}

fn documented() -> BTreeMap<String, Row> {
    let text = std::fs::read_to_string(root().join("deploy/README.md")).unwrap();
    text.lines()
        .filter(|line| line.starts_with("| `MCPGW_"))
        .map(|line| {
            let cells: Vec<&str> = line.trim_matches('|').split('|').map(str::trim).collect();
            let name = cells[0].trim_matches('`').to_owned();
            let row = Row {
                planes: cells[1].split(", ").map(str::to_owned).collect(),
                default: cells[3].trim_matches('`').to_owned(),
            };
            (name, row)
        })
        .collect()
}

#[test]
fn the_settings_table_names_every_variable_the_binaries_read_with_its_default() {
    let read = read_by_binaries();
    let documented = documented();
    let read_names: BTreeSet<_> = read.keys().cloned().collect();
    let documented_names: BTreeSet<_> = documented.keys().cloned().collect();
    assert_eq!(
        read_names.difference(&documented_names).collect::<Vec<_>>(),
        Vec::<&String>::new(),
        "read by a binary but missing from deploy/README.md"
    );
    assert_eq!(
        documented_names.difference(&read_names).collect::<Vec<_>>(),
        Vec::<&String>::new(),
        "in deploy/README.md but read by no binary"
    );
    for (name, read) in &read {
        let row = &documented[name];
        let planes: BTreeSet<String> = read.planes.iter().map(|p| (*p).to_owned()).collect();
        assert_eq!(row.planes, planes, "{name}: the planes that read it");
        if let Some(default) = &read.default
            && !default.is_empty()
        {
            assert_eq!(&row.default, default, "{name}: its default");
        }
    }
}

/// `MCPGW_*` names set in a manifest (`name: MCPGW_X`, `MCPGW_X: …`, `MCPGW_X=…`).
fn variables_in(text: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let mut rest = text;
    while let Some(at) = rest.find("MCPGW_") {
        let tail = &rest[at..];
        let end = tail
            .find(|c: char| !(c.is_ascii_uppercase() || c == '_' || c.is_ascii_digit()))
            .unwrap_or(tail.len());
        found.insert(tail[..end].to_owned());
        rest = &tail[end..];
    }
    found
}

/// Every file under `deploy/` that sets variables for a container.
fn manifests() -> Vec<PathBuf> {
    fn walk(dir: &Path, into: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, into);
            } else if matches!(
                path.extension().and_then(|e| e.to_str()),
                Some("yaml" | "yml" | "tpl" | "env" | "Dockerfile")
            ) || path.to_string_lossy().ends_with(".Dockerfile")
            {
                into.push(path);
            }
        }
    }
    let mut found = Vec::new();
    walk(&root().join("deploy"), &mut found);
    found
}

#[test]
fn every_manifest_sets_only_variables_a_binary_reads() {
    let read = read_by_binaries();
    let files = manifests();
    assert!(!files.is_empty(), "deploy/ has manifests");
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        for name in variables_in(&text) {
            assert!(
                read.contains_key(&name),
                "{} sets {name}, which no binary reads",
                file.display()
            );
        }
    }
}

#[test]
fn the_images_run_as_non_root_with_a_health_check_and_the_data_plane_image_has_only_its_package() {
    for (file, package) in [
        ("data-plane.Dockerfile", "mcpgw-data-plane"),
        ("control-plane.Dockerfile", "mcpgw-control-plane"),
    ] {
        let text = std::fs::read_to_string(root().join("deploy/docker").join(file)).unwrap();
        assert!(
            text.matches("\nFROM ").count() + usize::from(text.starts_with("FROM ")) >= 2,
            "{file}: multi-stage"
        );
        assert!(text.contains("USER nonroot"), "{file}: runs as non-root");
        assert!(text.contains("distroless"), "{file}: a distroless base");
        assert!(
            text.contains("HEALTHCHECK") && text.contains("\"health\""),
            "{file}: health check"
        );
        assert!(
            text.contains(&format!("-p {package} ")),
            "{file}: builds only {package}"
        );
    }
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let tree = std::process::Command::new(cargo)
        .args([
            "tree",
            "--offline",
            "-p",
            "mcpgw-data-plane",
            "-e",
            "normal",
            "--prefix",
            "none",
        ])
        .current_dir(root())
        .output()
        .expect("cargo tree runs");
    assert!(
        tree.status.success(),
        "{}",
        String::from_utf8_lossy(&tree.stderr)
    );
    let tree = String::from_utf8_lossy(&tree.stdout);
    assert!(tree.contains("mcpgw-shared"));
    assert!(
        !tree.contains("mcpgw-control-plane"),
        "the data plane's package depends on control-plane code"
    );
}

#[test]
fn the_example_nats_configurations_load() {
    let binary = [
        "/usr/sbin/nats-server",
        "/usr/bin/nats-server",
        "/usr/local/bin/nats-server",
    ]
    .into_iter()
    .find(|p| Path::new(p).exists())
    .expect("nats-server is not installed: tests/run.sh installs it (apt-get install nats-server)");
    let dir = tempfile::tempdir().unwrap();
    for name in ["hub.conf", "leaf.conf"] {
        std::fs::copy(root().join("deploy/nats").join(name), dir.path().join(name)).unwrap();
    }
    // What the control plane renders, as the leaf includes it.
    std::fs::write(
        dir.path().join("data-planes.conf"),
        "authorization { users = [ { nkey: \"UARJGUP6JE2NYSBFERDNOHGN2TRO6EGXEW7FK6AVJYHG7P7L4RE2J3B7\", \
         permissions: { publish: { allow: [\"mcpgw.default.status.x\"] }, subscribe: { allow: [\"mcpgw.default.heartbeat\"] } } } ] }",
    )
    .unwrap();
    for name in ["hub.conf", "leaf.conf"] {
        let output = std::process::Command::new(binary)
            .args(["-t", "-c"])
            .arg(dir.path().join(name))
            .env("ACME_LEAF_PASSWORD", "example")
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
}
