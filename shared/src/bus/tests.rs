//! Tests of `bus`.

use super::*;

#[test]
fn subject_matching_follows_nats_rules() {
    assert!(subject_matches("mcpgw.config.>", "mcpgw.config.ws.server"));
    assert!(subject_matches(
        "mcpgw.config.*.server",
        "mcpgw.config.ws.server"
    ));
    assert!(!subject_matches(
        "mcpgw.config.*.server",
        "mcpgw.config.ws.api_key"
    ));
    assert!(!subject_matches("mcpgw.config.>", "mcpgw.config"));
    assert!(!subject_matches("mcpgw.heartbeat", "mcpgw.heartbeat.x"));
    assert!(subject_matches("mcpgw.heartbeat", "mcpgw.heartbeat"));
}

#[tokio::test]
async fn the_in_process_bus_delivers_matching_messages_in_order() {
    let bus = InProcessBus::default();
    let mut stream = bus.subscribe("mcpgw.config.a.>".into()).await.unwrap();
    let message = |subject: &str, n: u8| BusMessage {
        subject: subject.into(),
        message_id: None,
        payload: Bytes::from(vec![n]),
    };
    bus.publish(vec![
        message("mcpgw.config.a.server", 1),
        message("mcpgw.config.b.server", 2),
        message("mcpgw.config.a.api_key", 3),
    ])
    .await
    .unwrap();
    assert_eq!(stream.next().await.unwrap().payload[0], 1);
    assert_eq!(stream.next().await.unwrap().payload[0], 3);
}
