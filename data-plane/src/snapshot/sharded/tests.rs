//! Tests of `sharded`.

use super::*;

#[test]
fn a_clone_is_unaffected_by_writes_to_the_original() {
    let mut map = ShardedMap::default();
    for i in 0..1000 {
        map.insert(i.to_string(), i);
    }
    let before = map.clone();
    map.insert("5".into(), 50);
    map.remove("6");
    map.insert("new".into(), 1);
    assert_eq!(
        (before.get("5"), before.get("6"), before.get("new")),
        (Some(&5), Some(&6), None)
    );
    assert_eq!(
        (map.get("5"), map.get("6"), map.get("new")),
        (Some(&50), None, Some(&1))
    );
    assert_eq!((before.values().count(), map.iter().count()), (1000, 1000));
    assert_eq!(map.values().count(), 1000);
}
