use proptest::prelude::*;

use super::*;

fn fixture(name: &str) -> Vec<u8> {
    let path = format!(
        "{}/src/fail2ban/fixtures/{name}.pickle",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&path).unwrap()
}

fn s(text: &str) -> Value {
    Value::Str(text.into())
}

#[test]
fn decodes_plain_replies() {
    assert_eq!(
        decode(&fixture("ping")).unwrap(),
        Value::Tuple(vec![Value::Int(0), s("pong")])
    );
    assert_eq!(
        decode(&fixture("status")).unwrap(),
        Value::Tuple(vec![
            Value::Int(0),
            Value::List(vec![
                Value::Tuple(vec![s("Number of jail"), Value::Int(1)]),
                Value::Tuple(vec![s("Jail list"), s("bangui-manual")]),
            ])
        ])
    );
    assert_eq!(
        decode(&fixture("bantime")).unwrap(),
        Value::Tuple(vec![Value::Int(0), Value::Int(86400)])
    );
}

#[test]
fn address_objects_become_strings() {
    assert_eq!(
        decode(&fixture("get_banned")).unwrap(),
        Value::Tuple(vec![
            Value::Int(0),
            Value::List(vec![s("192.0.2.1"), s("2001:db8::1")])
        ])
    );
    let Value::Tuple(reply) = decode(&fixture("jail_status_2000")).unwrap() else {
        panic!("not a tuple");
    };
    let text = format!("{reply:?}");
    assert!(text.contains("Str(\"10.0.7.249\")"));
    assert!(!text.contains("builtins"));
}

#[test]
fn exceptions_keep_class_and_arguments() {
    assert_eq!(
        decode(&fixture("unknown_jail")).unwrap(),
        Value::Tuple(vec![
            Value::Int(1),
            Value::Call {
                module: "fail2ban.exceptions".into(),
                name: "UnknownJailException".into(),
                args: vec![s("nojail")],
            }
        ])
    );
    let Value::Tuple(reply) = decode(&fixture("bad_command")).unwrap() else {
        panic!("not a tuple");
    };
    assert!(matches!(&reply[1], Value::Call { name, .. } if name == "Exception"));
}

#[test]
fn dicts_decode() {
    let Value::Tuple(reply) = decode(&fixture("banned_all")).unwrap() else {
        panic!("not a tuple");
    };
    assert_eq!(
        reply[1],
        Value::List(vec![Value::Dict(vec![(
            s("bangui-manual"),
            Value::List(vec![s("192.0.2.1"), s("2001:db8::1")])
        )])])
    );
}

#[test]
fn every_fixture_decodes_and_every_prefix_is_truncated() {
    let dir = format!("{}/src/fail2ban/fixtures", env!("CARGO_MANIFEST_DIR"));
    let mut seen = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        decode(&bytes).unwrap();
        seen += 1;
        for cut in 0..bytes.len().min(300) {
            let err = decode(&bytes[..cut]).unwrap_err();
            assert!(err.truncated, "prefix of {cut} bytes: {err}");
        }
    }
    assert!(seen >= 15);
}

#[test]
fn requests_round_trip_through_the_decoder() {
    let bytes = encode_command(&["set", "jail", "banip", "192.0.2.7"]).unwrap();
    assert_eq!(
        decode(&bytes).unwrap(),
        Value::List(vec![s("set"), s("jail"), s("banip"), s("192.0.2.7")])
    );
}

#[test]
fn hostile_pickles_are_refused() {
    // Nested one-element lists, deeper than allowed.
    let mut deep = vec![0x80, 4];
    deep.extend(std::iter::repeat_n(b']', 200));
    deep.extend(std::iter::repeat_n(b'a', 199));
    deep.push(b'.');
    assert!(decode(&deep).unwrap_err().message.contains("nesting"));

    // The same through dicts: {None: {None: {…}}}.
    let mut deep_dict = vec![0x80, 4];
    for _ in 0..100 {
        deep_dict.extend_from_slice(b"}N");
    }
    deep_dict.push(b'}');
    deep_dict.extend(std::iter::repeat_n(b's', 100));
    deep_dict.push(b'.');
    assert!(decode(&deep_dict).unwrap_err().message.contains("nesting"));

    // A list memoized and fetched again and again: the value count explodes.
    let mut bomb = vec![0x80, 4, b']', 0x94];
    for _ in 0..40 {
        bomb.extend_from_slice(&[b'(', b'h', 0, b'h', 0, b'e', 0x94]);
    }
    bomb.push(b'.');
    assert!(decode(&bomb).is_err());

    // A string claiming a length far past the input.
    let huge = [0x80, 4, b'X', 0xff, 0xff, 0xff, 0x7f, b'a', b'.'];
    assert!(decode(&huge).unwrap_err().truncated);

    // Unknown opcodes, stray bytes, an empty stack.
    assert!(
        decode(&[0x80, 4, b'z'])
            .unwrap_err()
            .message
            .contains("opcode")
    );
    assert!(decode(b"N.N").is_err());
    assert!(decode(b".").is_err());
    assert!(decode(b"(N00.").is_err());
}

proptest! {
    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        let _ = decode(&bytes);
    }

    #[test]
    fn mutated_fixtures_never_panic(index in 0usize..242, byte in any::<u8>()) {
        let mut bytes = fixture("jail_status");
        let i = index % bytes.len();
        bytes[i] = byte;
        let _ = decode(&bytes);
    }
}
