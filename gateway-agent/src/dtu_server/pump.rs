//! The byte pump of one DTU connection: requests from the current Modbus session go to the
//! socket; what the DTU sends is cut by the [`InboundFilter`], and a response frame reaches the
//! session only while a request is waiting for it. Everything else (late replies to abandoned
//! requests, replies arriving between sessions) is dropped, so the RTU decoder never takes an
//! old answer for a new one.

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _, DuplexStream};
use tokio::net::TcpStream;
use tokio::sync::mpsc;

use super::inbound::{Inbound, InboundFilter};

/// Moves bytes between the DTU's socket and the current Modbus session until the socket
/// closes or the connection is replaced.
pub(super) async fn pump(
    stream: TcpStream,
    mut filter: InboundFilter,
    mut sessions: mpsc::Receiver<DuplexStream>,
    first: &[u8],
    dtu: &str,
) {
    let (mut sock_r, mut sock_w) = stream.into_split();
    let mut link_r: Option<tokio::io::ReadHalf<DuplexStream>> = None;
    let mut link_w: Option<tokio::io::WriteHalf<DuplexStream>> = None;
    // A request was written and its answer has not been handed on yet.
    let mut awaiting = false;
    filter.push(first);
    let mut from_dtu = [0u8; 1024];
    let mut from_link = [0u8; 512];
    loop {
        tokio::select! {
            s = sessions.recv() => match s {
                Some(s) => {
                    let (r, w) = tokio::io::split(s);
                    (link_r, link_w) = (Some(r), Some(w));
                    filter.clear();
                    awaiting = false;
                }
                None => return,
            },
            n = async {
                match link_r.as_mut() {
                    Some(r) => r.read(&mut from_link).await,
                    None => std::future::pending().await,
                }
            } => match n {
                Ok(n) if n > 0 => {
                    if sock_w.write_all(&from_link[..n]).await.is_err() {
                        return;
                    }
                    filter.clear();
                    awaiting = true;
                }
                _ => (link_r, link_w) = (None, None),
            },
            n = sock_r.read(&mut from_dtu) => {
                let Ok(n) = n else { return };
                if n == 0 {
                    return;
                }
                filter.push(&from_dtu[..n]);
                while let Some(piece) = filter.next_piece() {
                    match piece {
                        Inbound::Frame(frame) => match link_w.as_mut() {
                            Some(w) if awaiting => {
                                awaiting = false;
                                if w.write_all(&frame).await.is_err() {
                                    (link_r, link_w) = (None, None);
                                }
                            }
                            _ => tracing::debug!(dtu, bytes = frame.len(), "unrequested bytes from the DTU dropped"),
                        },
                        Inbound::Heartbeat => tracing::trace!(dtu, "heartbeat"),
                        Inbound::Registration => tracing::trace!(dtu, "registration packet again"),
                    }
                }
            }
        }
    }
}
