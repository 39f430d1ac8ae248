//! Tests of `actor`.

use super::*;

#[test]
fn actors_read_back_their_recorded_form() {
    for actor in [Actor::System, Actor::ApiKey(ApiKeyId::generate())] {
        assert_eq!(actor.to_string().parse::<Actor>().unwrap(), actor);
    }
    assert_eq!(Actor::System.to_string(), "system");
}

#[test]
fn other_texts_are_not_actors() {
    for bad in ["", "System", "api_key:", "api_key:UPPER", "user:alice"] {
        assert!(bad.parse::<Actor>().is_err(), "{bad}");
    }
}
