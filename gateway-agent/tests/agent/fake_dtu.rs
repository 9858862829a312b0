//! A fake 4G DTU in transparent mode: dials the agent, sends its registration packet, then
//! bridges the RTU frames it receives to the Modbus TCP simulator, mixing heartbeats (and its
//! registration packet again) into the replies the way real DTUs do: before a reply, after it,
//! in the same TCP segment.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub fn crc16(data: &[u8]) -> u16 {
    let mut crc = 0xFFFF_u16;
    for &b in data {
        crc ^= u16::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xA001
            } else {
                crc >> 1
            };
        }
    }
    crc
}

pub struct FakeDtu {
    /// Becomes true when the agent closed the connection.
    pub closed: watch::Receiver<bool>,
    /// Requests bridged to the simulator.
    pub requests: Arc<AtomicU64>,
    task: JoinHandle<()>,
}

impl Drop for FakeDtu {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FakeDtu {
    /// Dials `agent` (retrying while its listener starts) and serves the simulator at `sim`.
    pub async fn connect(
        agent: SocketAddr,
        registration: &[u8],
        heartbeat: &[u8],
        sim: SocketAddr,
    ) -> Self {
        let end = tokio::time::Instant::now() + Duration::from_secs(5);
        let mut sock = loop {
            match TcpStream::connect(agent).await {
                Ok(s) => break s,
                Err(e) => {
                    assert!(
                        tokio::time::Instant::now() < end,
                        "agent not listening: {e}"
                    );
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
        };
        sock.set_nodelay(true).unwrap();
        sock.write_all(registration).await.unwrap();
        let (closed_tx, closed) = watch::channel(false);
        let requests = Arc::new(AtomicU64::new(0));
        let counter = Arc::clone(&requests);
        let registration = registration.to_vec();
        let heartbeat = heartbeat.to_vec();
        let task = tokio::spawn(async move {
            bridge(sock, sim, &registration, &heartbeat, &counter).await;
            let _ = closed_tx.send(true);
        });
        Self {
            closed,
            requests,
            task,
        }
    }

    pub async fn wait_closed(&mut self, limit: Duration) {
        tokio::time::timeout(limit, self.closed.wait_for(|c| *c))
            .await
            .expect("the agent did not close the DTU connection")
            .unwrap();
    }
}

/// Length of the RTU request at the start of `buf`, if complete enough to tell.
fn request_len(buf: &[u8]) -> Option<usize> {
    match *buf.get(1)? {
        1..=6 => Some(8),
        15 | 16 => Some(9 + usize::from(*buf.get(6)?)),
        f => panic!("the agent sent function {f}"),
    }
}

async fn bridge(
    mut sock: TcpStream,
    sim: SocketAddr,
    registration: &[u8],
    heartbeat: &[u8],
    counter: &AtomicU64,
) {
    let mut sim_conn: Option<TcpStream> = None;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 512];
    let mut n_replies = 0u64;
    loop {
        let Ok(n) = sock.read(&mut chunk).await else {
            return;
        };
        if n == 0 {
            return;
        }
        buf.extend_from_slice(&chunk[..n]);
        while let Some(len) = request_len(&buf).filter(|&l| l <= buf.len()) {
            let frame: Vec<u8> = buf.drain(..len).collect();
            let (body, crc) = frame.split_at(len - 2);
            assert_eq!(
                u16::from_le_bytes([crc[0], crc[1]]),
                crc16(body),
                "bad CRC from the agent"
            );
            counter.fetch_add(1, Ordering::Relaxed);
            let Some(pdu) = forward(&mut sim_conn, sim, body[0], &body[1..]).await else {
                continue;
            };
            let mut reply = vec![body[0]];
            reply.extend_from_slice(&pdu);
            reply.extend_from_slice(&crc16(&reply).to_le_bytes());
            let mut out = Vec::new();
            match n_replies % 4 {
                0 => {
                    out.extend_from_slice(heartbeat);
                    out.extend_from_slice(&reply);
                }
                1 => {
                    out.extend_from_slice(&reply);
                    out.extend_from_slice(heartbeat);
                }
                2 => {
                    out.extend_from_slice(registration);
                    out.extend_from_slice(&reply);
                }
                _ => out.extend_from_slice(&reply),
            }
            n_replies += 1;
            if sock.write_all(&out).await.is_err() {
                return;
            }
        }
    }
}

/// One request to the simulator over Modbus TCP; `None` when it does not answer.
async fn forward(
    conn: &mut Option<TcpStream>,
    sim: SocketAddr,
    unit: u8,
    pdu: &[u8],
) -> Option<Vec<u8>> {
    if conn.is_none() {
        *conn = Some(TcpStream::connect(sim).await.unwrap());
    }
    let stream = conn.as_mut()?;
    let mut adu = vec![0, 1, 0, 0];
    adu.extend_from_slice(&u16::try_from(pdu.len() + 1).unwrap().to_be_bytes());
    adu.push(unit);
    adu.extend_from_slice(pdu);
    stream.write_all(&adu).await.ok()?;
    let read = async {
        let mut head = [0u8; 7];
        stream.read_exact(&mut head).await.ok()?;
        let len = usize::from(u16::from_be_bytes([head[4], head[5]])) - 1;
        let mut pdu = vec![0u8; len];
        stream.read_exact(&mut pdu).await.ok()?;
        Some(pdu)
    };
    let answer = tokio::time::timeout(Duration::from_millis(200), read)
        .await
        .ok()
        .flatten();
    if answer.is_none() {
        // A silent meter: a late reply must not answer the next request.
        *conn = None;
    }
    answer
}
