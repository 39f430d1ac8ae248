//! What `deploy/` promises, checked against the code: the settings table names exactly the
//! variables the binaries read (with their defaults), every manifest sets only variables a
//! binary reads and every required one of its plane, the example NATS configurations load in
//! nats-server, the images run as non-root with a health check, the data-plane image's
//! package depends on no control-plane code, the plain Kubernetes manifests pass the
//! Kubernetes schemas (offline) and set every required variable, and the chart's templates name
//! only values it defines.

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
    required: String,
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
                required: cells[2].to_owned(),
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

/// The variables a container of `plane` must set, as groups of which one must be set: a
/// variable the table marks `yes` alone, a variable and its `_FILE` marked `yes (or …)`
/// together.
fn required_of(plane: &str) -> Vec<Vec<String>> {
    let mut groups: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (name, row) in documented() {
        if row.planes.contains(plane) && row.required.starts_with("yes") {
            let base = name.trim_end_matches("_FILE").to_owned();
            groups.entry(base).or_default().push(name);
        }
    }
    groups.into_values().collect()
}

/// Fails unless `env` sets a variable of every required group of `plane`.
fn assert_sets_required(plane: &str, env: &BTreeSet<String>, what: &str) {
    for group in required_of(plane) {
        assert!(
            group.iter().any(|name| env.contains(name)),
            "{what}: the {plane} container sets none of {group:?}"
        );
    }
}

/// Each container of the Deployments and Jobs in `text`: its image and the variables it sets.
fn containers(text: &str) -> Vec<(String, Vec<String>, BTreeSet<String>)> {
    use serde::Deserialize;
    let mut found = Vec::new();
    for document in serde_yaml_ng::Deserializer::from_str(text) {
        let value = serde_json::Value::deserialize(document).expect("the manifest is YAML");
        for container in value["spec"]["template"]["spec"]["containers"]
            .as_array()
            .into_iter()
            .flatten()
        {
            let args = container["args"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|a| a.as_str().map(str::to_owned))
                .collect();
            let env = container["env"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|e| e["name"].as_str().map(str::to_owned))
                .collect();
            found.push((
                container["image"].as_str().unwrap_or_default().to_owned(),
                args,
                env,
            ));
        }
    }
    found
}

#[test]
fn the_kubernetes_manifests_pass_the_schemas_and_set_every_required_variable() {
    let dir = root().join("deploy/k8s");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    assert!(files.len() >= 3, "deploy/k8s holds the manifests");
    let output = std::process::Command::new(mcpgw_e2e::peers::kubernetes_validate())
        .arg("--strict")
        .args(&files)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "kubernetes-validate --strict: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let mut servers = 0;
    for file in &files {
        for (image, args, env) in containers(&std::fs::read_to_string(file).unwrap()) {
            let plane = if image.contains("mcpgw-control-plane") {
                "CP"
            } else if image.contains("mcpgw-data-plane") {
                "DP"
            } else {
                continue;
            };
            if args != ["serve"] {
                // The migration Job needs only the database.
                assert!(
                    env.contains("MCPGW_DATABASE_URL"),
                    "{}: migrate needs the database",
                    file.display()
                );
                continue;
            }
            servers += 1;
            assert_sets_required(plane, &env, &file.display().to_string());
        }
    }
    assert_eq!(
        servers, 2,
        "one control-plane and one data-plane Deployment"
    );
}

#[test]
fn the_charts_templates_name_only_values_it_defines() {
    let chart = root().join("deploy/helm/mcpgw");
    let values: serde_json::Value =
        serde_yaml_ng::from_str(&std::fs::read_to_string(chart.join("values.yaml")).unwrap())
            .expect("values.yaml is YAML");
    let resolves = |path: &str| {
        path.split('.')
            .filter(|s| !s.is_empty())
            .try_fold(&values, |at, key| at.get(key))
            .is_some()
    };
    let reference =
        regex::Regex::new(r"(\.Values|\$cp|\$dp)((?:\.[A-Za-z][A-Za-z0-9]*)+)").unwrap();
    let mut checked = 0;
    for entry in std::fs::read_dir(chart.join("templates")).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        for found in reference.captures_iter(&text) {
            let prefix = match &found[1] {
                "$cp" => "controlPlane",
                "$dp" => "dataPlane",
                _ => "",
            };
            let full = format!("{prefix}{}", &found[2]);
            assert!(
                resolves(&full),
                "{} names {full}, which values.yaml lacks",
                path.display()
            );
            checked += 1;
        }
    }
    assert!(
        checked > 30,
        "the templates were read ({checked} references)"
    );
    // The hybrid values only set values the chart has.
    let hybrid: serde_json::Value = serde_yaml_ng::from_str(
        &std::fs::read_to_string(chart.join("values-hybrid.yaml")).unwrap(),
    )
    .unwrap();
    fn leaves(value: &serde_json::Value, path: String, into: &mut Vec<String>) {
        match value.as_object() {
            Some(map) => map
                .iter()
                .for_each(|(k, v)| leaves(v, format!("{path}.{k}"), into)),
            None => into.push(path),
        }
    }
    let mut paths = Vec::new();
    leaves(&hybrid, String::new(), &mut paths);
    for path in paths {
        assert!(
            resolves(&path),
            "values-hybrid.yaml sets {path}, which values.yaml lacks"
        );
    }
}

#[test]
fn the_compose_layout_runs_both_planes_with_every_required_variable() {
    let text = std::fs::read_to_string(root().join("deploy/compose/compose.yaml")).unwrap();
    let mut yaml: serde_yaml_ng::Value =
        serde_yaml_ng::from_str(&text).expect("compose.yaml is YAML");
    yaml.apply_merge().expect("merge keys resolve");
    let compose: serde_json::Value = serde_json::to_value(&yaml).unwrap();
    let services = compose["services"].as_object().expect("services");
    for wanted in [
        "postgres",
        "nats",
        "secrets",
        "control-plane",
        "data-plane-1",
        "data-plane-2",
        "demo-upstream",
    ] {
        assert!(services.contains_key(wanted), "compose runs {wanted}");
    }
    let mut planes = Vec::new();
    for (name, service) in services {
        let image = service["image"].as_str().unwrap_or_default();
        let command: Vec<&str> = service["command"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|c| c.as_str())
            .collect();
        let plane = if image.starts_with("mcpgw-data-plane") {
            "DP"
        } else if image.starts_with("mcpgw-control-plane") && command == ["serve"] {
            "CP"
        } else {
            continue;
        };
        let env: BTreeSet<String> = service["environment"]
            .as_object()
            .map(|e| e.keys().cloned().collect())
            .unwrap_or_default();
        assert_sets_required(plane, &env, &format!("compose service {name}"));
        planes.push(plane);
    }
    planes.sort_unstable();
    assert_eq!(planes, ["CP", "DP", "DP"]);
}
