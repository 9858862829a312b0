//! `wattpay-agent scan`: which slave ids answer on a serial port or TCP address, at which line
//! settings, and which presets read them, with what to check when the answer is "nothing".
//!
//! Any well-formed reply counts as "a device is there", an exception reply included (a meter
//! without holding register 0 still answers). A reply that arrives but fails the CRC or framing
//! means the line setting is wrong (or two masters talk). Silence everywhere is the classic
//! swapped A/B wires. On TCP the line settings are the serial server's business: only slave
//! ids are scanned.

use std::fmt::{self, Write as _};
use std::time::Duration;

use protocol::gateway_config::Parity;
use protocol::MeterModel;
use tokio_modbus::{Request, Response};

use crate::meter_read::read_meter;
use crate::modbus_link::{Endpoint, LinkError, LinkSettings, ModbusLink};

/// Where to scan.
#[derive(Debug, Clone)]
pub enum ScanTarget {
    Serial(String),
    Tcp(String),
    RtuOverTcp(String),
}

impl fmt::Display for ScanTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Serial(d) => write!(f, "serial port {d}"),
            Self::Tcp(a) => write!(f, "Modbus TCP {a}"),
            Self::RtuOverTcp(a) => write!(f, "RTU over TCP {a}"),
        }
    }
}

/// Baud rate and parity (always 8 data bits, 1 stop bit).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LineSetting {
    pub baud: u32,
    pub parity: Parity,
}

impl fmt::Display for LineSetting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} 8{:?}1", self.baud, self.parity)
    }
}

/// How one slave id answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// Holding register 0 read fine.
    Register(u16),
    Exception(u8),
    /// Bytes came back but were not a valid frame.
    Garbled(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    /// `None` on TCP.
    pub setting: Option<LineSetting>,
    pub slave: u8,
    pub answer: Answer,
    /// Presets whose whole map reads and decodes from this slave.
    pub models: Vec<MeterModel>,
}

#[derive(Debug, Clone)]
pub struct ScanOptions {
    pub slaves: std::ops::RangeInclusive<u8>,
    /// Serial only.
    pub settings: Vec<LineSetting>,
    pub timeout: Duration,
}

/// Tries every slave id at every setting; calls `progress` with a line per answer.
pub async fn scan(
    target: &ScanTarget,
    options: &ScanOptions,
    mut progress: impl FnMut(&str),
) -> Result<Vec<Found>, LinkError> {
    let settings: Vec<Option<LineSetting>> = match target {
        ScanTarget::Serial(_) => options.settings.iter().copied().map(Some).collect(),
        ScanTarget::Tcp(_) | ScanTarget::RtuOverTcp(_) => vec![None],
    };
    let mut found = Vec::new();
    for setting in settings {
        let endpoint = match (target, setting) {
            (ScanTarget::Serial(device), Some(s)) => Endpoint::Serial {
                device: device.clone(),
                baud: s.baud,
                parity: s.parity,
            },
            (ScanTarget::Tcp(a), _) => Endpoint::Tcp(a.clone()),
            (ScanTarget::RtuOverTcp(a) | ScanTarget::Serial(a), _) => {
                Endpoint::RtuOverTcp(a.clone())
            }
        };
        let mut link = ModbusLink::new(
            endpoint,
            LinkSettings {
                timeout: options.timeout,
                retries: 0,
                // RTU wants 3.5 character times of silence between frames; after a garbled
                // reply a little more lets the line settle.
                request_gap: Duration::from_millis(20),
                slave_switch_gap: Duration::from_millis(20),
            },
        );
        if let Some(s) = setting {
            progress(&format!("trying {s} ..."));
        }
        for slave in options.slaves.clone() {
            let answer = match link.call(slave, Request::ReadHoldingRegisters(0, 1)).await {
                Ok(Response::ReadHoldingRegisters(w)) => {
                    Answer::Register(w.first().copied().unwrap_or_default())
                }
                Ok(other) => Answer::Garbled(format!("unexpected answer {other:?}")),
                Err(LinkError::Exception(code)) => Answer::Exception(code),
                Err(LinkError::Protocol(why) | LinkError::Io(why)) => Answer::Garbled(why),
                Err(LinkError::Timeout(_)) => continue,
                Err(e @ LinkError::Connect(_)) => return Err(e),
            };
            let models = if matches!(answer, Answer::Garbled(_)) {
                Vec::new()
            } else {
                identify(&mut link, slave).await
            };
            let f = Found {
                setting,
                slave,
                answer,
                models,
            };
            progress(&describe(&f));
            found.push(f);
        }
        link.disconnect().await;
    }
    Ok(found)
}

async fn identify(link: &mut ModbusLink, slave: u8) -> Vec<MeterModel> {
    let mut models = Vec::new();
    for model in MeterModel::ALL {
        if read_meter(link, slave, &model.register_map()).await.is_ok() {
            models.push(model);
        }
    }
    models
}

/// One line about one answer.
pub fn describe(f: &Found) -> String {
    let at = f.setting.map(|s| format!(" at {s}")).unwrap_or_default();
    let what = match &f.answer {
        Answer::Register(v) => format!("answers (holding register 0 = {v:#06x})"),
        Answer::Exception(c) => format!(
            "answers with exception {c} to a read of holding register 0 (it is there, \
             but has no such register)"
        ),
        Answer::Garbled(why) => format!("answers garbled ({why})"),
    };
    let models = if f.models.is_empty() {
        String::new()
    } else {
        let names: Vec<&str> = f.models.iter().map(|m| m.as_str()).collect();
        format!("; reads as {}", names.join(", "))
    };
    format!("slave {}{at} {what}{models}", f.slave)
}

/// What the scan means for the technician: where the meters are, or what to check.
pub fn summary(target: &ScanTarget, options: &ScanOptions, found: &[Found]) -> String {
    let mut out = String::new();
    let clean: Vec<&Found> = found
        .iter()
        .filter(|f| !matches!(f.answer, Answer::Garbled(_)))
        .collect();
    let garbled: Vec<&Found> = found
        .iter()
        .filter(|f| matches!(f.answer, Answer::Garbled(_)))
        .collect();
    let range = format!("{}-{}", options.slaves.start(), options.slaves.end());
    if found.is_empty() {
        let tried = match target {
            ScanTarget::Serial(_) => {
                let s: Vec<String> = options.settings.iter().map(ToString::to_string).collect();
                format!(" at {}", s.join(", "))
            }
            _ => String::new(),
        };
        let _ = writeln!(
            out,
            "Nothing answered on {target}{tried} for slave ids {range}. Check, most likely first:\n\
             - the A and B wires swapped (swap them and scan again);\n\
             - the meters powered, and the bus wired through to them;\n\
             - a line setting not tried (--baud 4800,19200 --parity O) or slave ids outside {range};"
        );
        let _ = match target {
            ScanTarget::Serial(_) => {
                writeln!(out, "- the right serial device for the RS485 adapter.")
            }
            _ => writeln!(
                out,
                "- the serial server's own baud rate and parity, which must match the meters."
            ),
        };
        return out;
    }
    let mut settings: Vec<Option<LineSetting>> = clean.iter().map(|f| f.setting).collect();
    settings.dedup();
    for s in &settings {
        let slaves: Vec<String> = clean
            .iter()
            .filter(|f| f.setting == *s)
            .map(|f| f.slave.to_string())
            .collect();
        let _ = match s {
            Some(s) => writeln!(
                out,
                "Found slave ids {} at {s}: use baud = {}, parity = \"{:?}\" for this bus.",
                slaves.join(", "),
                s.baud,
                s.parity
            ),
            None => writeln!(out, "Found slave ids {}.", slaves.join(", ")),
        };
    }
    for f in clean
        .iter()
        .filter(|f| matches!(f.answer, Answer::Exception(_)))
    {
        if f.models.is_empty() {
            let _ = writeln!(
                out,
                "Slave {} answers only with exceptions and no preset reads it: write its \
                 register map in the config (see its manual), then check it with probe.",
                f.slave
            );
        }
    }
    let mut bad: Vec<LineSetting> = garbled.iter().filter_map(|f| f.setting).collect();
    bad.dedup();
    bad.retain(|b| !settings.contains(&Some(*b)));
    if !bad.is_empty() {
        let list: Vec<String> = bad.iter().map(ToString::to_string).collect();
        let _ = writeln!(
            out,
            "Garbled answers at {}: that line setting is wrong for these meters{}.",
            list.join(", "),
            if clean.is_empty() {
                "; none of the settings tried is right (try --baud 4800,19200 --parity O), \
                 or a second master is talking on the bus"
            } else {
                ""
            }
        );
    } else if clean.is_empty() {
        let _ = writeln!(
            out,
            "Only garbled answers: a second master on the bus, noise, or a line setting the \
             serial server converts wrongly."
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options() -> ScanOptions {
        ScanOptions {
            slaves: 1..=247,
            settings: vec![
                LineSetting {
                    baud: 9600,
                    parity: Parity::N,
                },
                LineSetting {
                    baud: 2400,
                    parity: Parity::E,
                },
            ],
            timeout: Duration::from_millis(300),
        }
    }

    #[test]
    fn silence_everywhere_points_at_swapped_wires() {
        let s = summary(&ScanTarget::Serial("/dev/ttyUSB0".into()), &options(), &[]);
        assert!(s.contains("Nothing answered on serial port /dev/ttyUSB0 at 9600 8N1, 2400 8E1"));
        assert!(s.contains("A and B wires swapped"), "{s}");
    }

    #[test]
    fn garbled_at_one_setting_and_clean_at_another_names_the_right_one() {
        let o = options();
        let found = [
            Found {
                setting: Some(o.settings[0]),
                slave: 3,
                answer: Answer::Garbled("Invalid CRC".into()),
                models: vec![],
            },
            Found {
                setting: Some(o.settings[1]),
                slave: 3,
                answer: Answer::Register(1),
                models: vec![MeterModel::AcrelDdsy1352],
            },
        ];
        let s = summary(&ScanTarget::Serial("/dev/ttyS1".into()), &o, &found);
        assert!(
            s.contains("Found slave ids 3 at 2400 8E1: use baud = 2400, parity = \"E\""),
            "{s}"
        );
        assert!(
            s.contains("Garbled answers at 9600 8N1: that line setting is wrong"),
            "{s}"
        );
    }
}
