//! Tests of `bus`.

use super::*;

#[test]
fn subject_matching_follows_nats_rules() {
    assert!(subject_matches(
        "mcpgw.default.config.>",
        "mcpgw.default.config.ws.server"
    ));
    assert!(subject_matches(
        "mcpgw.default.config.*.server",
        "mcpgw.default.config.ws.server"
    ));
    assert!(!subject_matches(
        "mcpgw.default.config.*.server",
        "mcpgw.default.config.ws.api_key"
    ));
    assert!(!subject_matches(
        "mcpgw.default.config.>",
        "mcpgw.default.config"
    ));
    assert!(!subject_matches(
        "mcpgw.default.heartbeat",
        "mcpgw.default.heartbeat.x"
    ));
    assert!(subject_matches(
        "mcpgw.default.heartbeat",
        "mcpgw.default.heartbeat"
    ));
}

#[tokio::test]
async fn the_in_process_bus_delivers_matching_messages_in_order() {
    let bus = InProcessBus::default();
    let mut stream = bus
        .subscribe("mcpgw.default.config.a.>".into())
        .await
        .unwrap();
    let message = |subject: &str, n: u8| BusMessage {
        subject: subject.into(),
        message_id: None,
        payload: Bytes::from(vec![n]),
    };
    bus.publish(vec![
        message("mcpgw.default.config.a.server", 1),
        message("mcpgw.default.config.b.server", 2),
        message("mcpgw.default.config.a.api_key", 3),
    ])
    .await
    .unwrap();
    assert_eq!(stream.next().await.unwrap().payload[0], 1);
    assert_eq!(stream.next().await.unwrap().payload[0], 3);
}
