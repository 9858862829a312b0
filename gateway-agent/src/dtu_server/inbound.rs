//! What a DTU sends us, cut into pieces: Modbus RTU response frames, heartbeats and repeated
//! registration packets.
//!
//! The cut is made only at a frame boundary, where the length of a response is known from its
//! header (exception: 5 bytes; read: 5 + byte count; write: 8), so a heartbeat is never looked
//! for inside a frame's data and a frame is handed on only whole. At a boundary, a heartbeat
//! (or the registration packet again: some DTUs prefix it to every packet) is recognised first
//! and dropped; so a pattern must not look like the start of a Modbus reply (a one-byte `hex:01`
//! heartbeat would eat slave 1's answers). Bytes that start with an unknown function code are
//! handed on as they are, and the RTU decoder's CRC check rejects them.

use regex::bytes::Regex;

/// A heartbeat or registration pattern, compiled.
#[derive(Debug, Clone)]
pub enum Pattern {
    /// Exactly these bytes.
    Bytes(Vec<u8>),
    /// Bytes the expression matches, anchored where the piece starts.
    Regex(Regex),
}

impl Pattern {
    /// Compiles a `hex:`/`regex:` config pattern; `regex:` ones are anchored at the start.
    pub fn compile(pattern: &protocol::gateway_config::PacketPattern) -> Result<Self, String> {
        if let Some(bytes) = pattern.hex_bytes() {
            return Ok(Self::Bytes(bytes));
        }
        let expr = pattern.regex().unwrap_or_default();
        Regex::new(&format!("^(?:{expr})"))
            .map(Self::Regex)
            .map_err(|e| format!("pattern {:?}: {e}", pattern.as_str()))
    }

    /// How `buf` starts with respect to the pattern.
    fn at_start(&self, buf: &[u8]) -> Start {
        match self {
            Self::Bytes(b) if buf.starts_with(b) => Start::Whole(b.len()),
            Self::Bytes(b) if b.starts_with(buf) => Start::Partial,
            Self::Bytes(_) => Start::No,
            Self::Regex(r) => match r.find(buf) {
                Some(m) if m.end() > 0 => Start::Whole(m.end()),
                _ => Start::No,
            },
        }
    }
}

enum Start {
    Whole(usize),
    /// `buf` could still become the pattern with more bytes.
    Partial,
    No,
}

/// One piece of the inbound stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Inbound {
    /// A response frame (or unframeable bytes) for the RTU decoder.
    Frame(Vec<u8>),
    Heartbeat,
    Registration,
}

/// Cuts the bytes a DTU sends into [`Inbound`] pieces.
#[derive(Debug)]
pub struct InboundFilter {
    buf: Vec<u8>,
    heartbeat: Option<Pattern>,
    /// The registration packet as this DTU sent it when it connected.
    registration: Vec<u8>,
}

impl InboundFilter {
    pub fn new(heartbeat: Option<Pattern>, registration: Vec<u8>) -> Self {
        Self {
            buf: Vec::new(),
            heartbeat,
            registration,
        }
    }

    pub fn push(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// Forgets a partly received piece (a new request starts; what was pending is stale).
    pub fn clear(&mut self) {
        self.buf.clear();
    }

    /// The next complete piece, `None` until more bytes arrive.
    pub fn next_piece(&mut self) -> Option<Inbound> {
        if self.buf.is_empty() {
            return None;
        }
        let mut waiting = false;
        if let Some(hb) = &self.heartbeat {
            match hb.at_start(&self.buf) {
                Start::Whole(n) => {
                    self.buf.drain(..n);
                    return Some(Inbound::Heartbeat);
                }
                Start::Partial => waiting = true,
                Start::No => {}
            }
        }
        if !self.registration.is_empty() {
            let reg = Pattern::Bytes(self.registration.clone());
            match reg.at_start(&self.buf) {
                Start::Whole(n) => {
                    self.buf.drain(..n);
                    return Some(Inbound::Registration);
                }
                Start::Partial => waiting = true,
                Start::No => {}
            }
        }
        let len = match frame_len(&self.buf) {
            FrameLen::Known(n) if n <= self.buf.len() => n,
            FrameLen::Known(_) | FrameLen::NeedMore => return None,
            // Not a response we can frame: hand it all on, unless it may yet be a heartbeat.
            FrameLen::Unknown if waiting => return None,
            FrameLen::Unknown => self.buf.len(),
        };
        Some(Inbound::Frame(self.buf.drain(..len).collect()))
    }
}

enum FrameLen {
    Known(usize),
    NeedMore,
    Unknown,
}

/// The length of the RTU response frame at the start of `buf` (slave, function, ..., CRC).
fn frame_len(buf: &[u8]) -> FrameLen {
    let Some(&function) = buf.get(1) else {
        return FrameLen::NeedMore;
    };
    match function {
        f if f & 0x80 != 0 => FrameLen::Known(5),
        1..=4 => buf
            .get(2)
            .map_or(FrameLen::NeedMore, |&n| FrameLen::Known(5 + usize::from(n))),
        5 | 6 | 15 | 16 => FrameLen::Known(8),
        _ => FrameLen::Unknown,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use protocol::gateway_config::PacketPattern;

    fn pattern(s: &str) -> Pattern {
        Pattern::compile(&PacketPattern::parse(s).unwrap()).unwrap()
    }

    const READ_REPLY: [u8; 9] = [0x01, 0x03, 0x04, 0x00, 0x01, 0xE2, 0x40, 0xAA, 0xBB];

    fn all(f: &mut InboundFilter) -> Vec<Inbound> {
        std::iter::from_fn(|| f.next_piece()).collect()
    }

    #[test]
    fn heartbeats_around_a_frame_in_one_chunk_are_stripped() {
        let mut f = InboundFilter::new(Some(pattern("hex:fefe")), b"DTU-1".to_vec());
        let mut chunk = vec![0xFE, 0xFE];
        chunk.extend_from_slice(&READ_REPLY);
        chunk.extend_from_slice(&[0xFE, 0xFE]);
        chunk.extend_from_slice(b"DTU-1");
        f.push(&chunk);
        assert_eq!(
            all(&mut f),
            vec![
                Inbound::Heartbeat,
                Inbound::Frame(READ_REPLY.to_vec()),
                Inbound::Heartbeat,
                Inbound::Registration
            ]
        );
    }

    #[test]
    fn heartbeat_bytes_inside_a_frame_stay_data() {
        let mut f = InboundFilter::new(Some(pattern("hex:e240")), Vec::new());
        f.push(&READ_REPLY);
        assert_eq!(all(&mut f), vec![Inbound::Frame(READ_REPLY.to_vec())]);
    }

    #[test]
    fn split_frames_and_heartbeats_wait_for_their_rest() {
        let mut f = InboundFilter::new(Some(pattern("regex:HB[0-9]+;")), Vec::new());
        f.push(b"HB12");
        // A regex heartbeat is taken only when whole; "HB12" is not a frame header we know.
        assert_eq!(
            f.next_piece(),
            Some(Inbound::Frame(b"HB12".to_vec())),
            "an unframeable start is handed on"
        );
        f.push(b"HB7;");
        f.push(&READ_REPLY[..4]);
        assert_eq!(f.next_piece(), Some(Inbound::Heartbeat));
        assert_eq!(f.next_piece(), None);
        f.push(&READ_REPLY[4..]);
        assert_eq!(all(&mut f), vec![Inbound::Frame(READ_REPLY.to_vec())]);
    }

    #[test]
    fn exception_and_write_replies_have_fixed_lengths() {
        let mut f = InboundFilter::new(Some(pattern("hex:0000")), Vec::new());
        let exception = [0x02, 0x83, 0x02, 0x11, 0x22];
        let write = [0x02, 0x10, 0x00, 0x57, 0x00, 0x02, 0x33, 0x44];
        f.push(&exception);
        f.push(&write);
        assert_eq!(
            all(&mut f),
            vec![
                Inbound::Frame(exception.to_vec()),
                Inbound::Frame(write.to_vec())
            ]
        );
    }

    #[test]
    fn a_partial_hex_heartbeat_waits() {
        let mut f = InboundFilter::new(Some(pattern("hex:41424344")), Vec::new());
        f.push(b"AB");
        assert_eq!(f.next_piece(), None);
        f.push(b"CD");
        assert_eq!(f.next_piece(), Some(Inbound::Heartbeat));
    }
}
