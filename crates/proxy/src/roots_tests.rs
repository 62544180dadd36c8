use serde_json::json;

use super::*;

fn allowed() -> Vec<PathBuf> {
    vec![PathBuf::from("/srv/docs"), PathBuf::from("/srv/inbox")]
}

#[test]
fn roots_are_kept_inside_narrowed_when_wider_and_dropped_elsewhere() {
    let mut result = json!({"roots": [
        {"uri": "file:///srv/docs/reports", "name": "reports"},
        {"uri": "file:///", "name": "everything"},
        {"uri": "file:///home/u", "name": "home"},
        {"uri": "file:///srv/docs/../../etc", "name": "sneaky"},
        {"uri": "https://example.com/", "name": "web"},
        {"uri": "file:///srv/inbox", "name": "inbox"}
    ], "_meta": {"x": 1}});
    narrow(&mut result, &allowed());
    assert_eq!(
        result,
        json!({"roots": [
            {"uri": "file:///srv/docs/reports", "name": "reports"},
            {"uri": "file:///srv/docs", "name": "everything"},
            {"uri": "file:///srv/inbox", "name": "everything"}
        ], "_meta": {"x": 1}})
    );
}

#[test]
fn encoded_paths_are_compared_decoded() {
    let mut result = json!({"roots": [{"uri": "file:///srv/docs/my%20file"}, {"uri": "file:///srv/docs%2F..%2F..%2Fetc"}]});
    narrow(&mut result, &allowed());
    assert_eq!(result["roots"].as_array().unwrap().len(), 1, "{result}");
    assert_eq!(result["roots"][0]["uri"], "file:///srv/docs/my%20file");
}

#[test]
fn a_result_without_roots_is_left_alone() {
    let mut result = json!({"other": true});
    narrow(&mut result, &allowed());
    assert_eq!(result, json!({"other": true}));
}
