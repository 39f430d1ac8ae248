//! Tests of `subjects`.

use super::*;
use crate::ids::WorkspaceId;

#[test]
fn subjects_carry_the_cluster_namespace() {
    let subjects = "eu-1".parse::<Cluster>().unwrap().subjects();
    let workspace = WorkspaceId::new();
    assert_eq!(
        subjects.config(Audience::Workspace(workspace), EntityKind::ApiKey),
        format!("mcpgw.eu-1.config.{workspace}.api_key")
    );
    assert_eq!(
        subjects.config(Audience::Global, EntityKind::DataPlane),
        "mcpgw.eu-1.config._global.data_plane"
    );
    assert_eq!(subjects.heartbeat(), "mcpgw.eu-1.heartbeat");
    assert_eq!(subjects.all_config(), "mcpgw.eu-1.config.>");
    assert_eq!(Subjects::default().heartbeat(), "mcpgw.default.heartbeat");
}

#[test]
fn a_cluster_name_is_one_subject_token() {
    for bad in ["", "a.b", "a b", "*", ">", &"x".repeat(65)] {
        assert!(bad.parse::<Cluster>().is_err(), "{bad:?} was accepted");
    }
    assert_eq!("prod_2".parse::<Cluster>().unwrap().as_str(), "prod_2");
}

#[test]
fn request_log_subjects_name_their_sender() {
    let subjects = "eu-1".parse::<Cluster>().unwrap().subjects();
    let data_plane = DataPlaneId::new();
    let subject = subjects.requests_of(data_plane);
    assert!(crate::bus::subject_matches(
        &subjects.logs_of(data_plane),
        &subject
    ));
    assert_eq!(subjects.requests_sender(&subject), Some(data_plane));
    let other = Subjects::default().requests_of(data_plane);
    assert_eq!(subjects.requests_sender(&other), None);
    assert_eq!(
        subjects.requests_sender("mcpgw.eu-1.logs.nope.requests"),
        None
    );
}
