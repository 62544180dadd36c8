use super::*;

async fn frames(input: &[u8], limit: usize) -> Vec<Frame> {
    let mut r = LineReader::new(tokio::io::BufReader::with_capacity(7, input), limit);
    let mut out = Vec::new();
    loop {
        let f = r.next().await.unwrap();
        let eof = f == Frame::Eof;
        out.push(f);
        if eof {
            return out;
        }
    }
}

#[tokio::test]
async fn splits_lines_and_skips_blank_ones() {
    let got = frames(b"{\"a\":1}\r\n\n  \n{\"b\":2}", 100).await;
    assert_eq!(
        got,
        vec![
            Frame::Line(b"{\"a\":1}".to_vec()),
            Frame::Line(b"{\"b\":2}".to_vec()),
            Frame::Eof
        ]
    );
}

#[tokio::test]
async fn oversized_line_is_reported_and_skipped() {
    let mut input = vec![b'x'; 50];
    input.extend_from_slice(b"\n{\"ok\":true}\n");
    let got = frames(&input, 20).await;
    assert_eq!(got.len(), 3);
    match &got[0] {
        Frame::Oversized { len, prefix } => {
            assert_eq!(*len, 50);
            assert_eq!(prefix.len(), 50); // under PREFIX_KEPT, so all of it is kept
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(got[1], Frame::Line(b"{\"ok\":true}".to_vec()));
}

#[tokio::test]
async fn exact_limit_is_accepted() {
    let got = frames(b"12345\n123456\n", 5).await;
    assert_eq!(got[0], Frame::Line(b"12345".to_vec()));
    assert!(matches!(got[1], Frame::Oversized { len: 6, .. }));
}
