//! `ForwardStream`: tar skips through it by seeking forward; nothing else seeks.

use std::io::{Read, Seek, SeekFrom};

use ferry_chart::ForwardStream;

#[test]
fn seeking_forward_skips_bytes_and_reports_the_position() {
    let data: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
    let mut s = ForwardStream::new(&data[..]);
    let mut head = [0u8; 10];
    s.read_exact(&mut head).unwrap();
    assert_eq!(head[..], data[..10]);
    // nothing to skip (a seek by 0, as tar makes for every entry): the position, no read
    assert_eq!(s.stream_position().unwrap(), 10);
    // more than one buffer's worth
    assert_eq!(s.seek(SeekFrom::Current(70_000)).unwrap(), 70_010);
    let mut next = [0u8; 5];
    s.read_exact(&mut next).unwrap();
    assert_eq!(next[..], data[70_010..70_015]);
    assert_eq!(s.stream_position().unwrap(), 70_015);
    // backwards, or from either end, is refused; past the end is an EOF error
    assert!(s.seek(SeekFrom::Current(-1)).is_err());
    assert!(s.seek(SeekFrom::Start(0)).is_err());
    assert!(s.seek(SeekFrom::End(0)).is_err());
    let err = s.seek(SeekFrom::Current(1_000_000)).unwrap_err();
    assert!(err.to_string().contains("unexpected EOF"), "{err}");
}
