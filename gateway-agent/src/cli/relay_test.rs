//! `wattpay-agent relay-test`: switches one meter's relay both ways with read-back, so the
//! technician leaves a building knowing the cloud's trips and restores will work.
//!
//! The test leaves the relay as it found it: a closed relay is tripped then closed, an open one
//! (a tenant cut off for non-payment) is closed then tripped again. Without a relay read in the
//! map the start state is unknown and the test trips then closes. Every failure says what it
//! means in the field, and if the test stops half-way it says loudly in which state the relay
//! was left.

use std::fmt::Write as _;
use std::time::Duration;

use protocol::register_map::RegisterFunction;
use protocol::{RegisterMap, RelayState};

use protocol::{AgentConfig, ConfigDuration};

use super::configured_meter::configured_meter;
use crate::meter_read::{read_relay, write_relay, ReadError};
use crate::modbus_link::{LinkError, ModbusLink};

/// What the test is about to do, for the confirmation prompt.
pub fn plan(initial: Option<RelayState>) -> [RelayState; 2] {
    match initial {
        Some(RelayState::Open) => [RelayState::Closed, RelayState::Open],
        _ => [RelayState::Open, RelayState::Closed],
    }
}

pub fn state_name(state: RelayState) -> &'static str {
    match state {
        RelayState::Open => "open",
        RelayState::Closed => "closed",
    }
}

pub fn verb(state: RelayState) -> &'static str {
    match state {
        RelayState::Open => "trip (open)",
        RelayState::Closed => "close",
    }
}

/// Reads the relay before the test; `Ok(None)` when the map cannot read it.
pub async fn initial_state(
    link: &mut ModbusLink,
    slave: u8,
    map: &RegisterMap,
) -> anyhow::Result<Option<RelayState>> {
    if map.relay.as_ref().and_then(|r| r.write.as_ref()).is_none() {
        anyhow::bail!("the meter's register map has no relay write: there is nothing to test");
    }
    read_relay(link, slave, map).await.map_err(|e| {
        anyhow::anyhow!(
            "could not read the relay before the test: {e}\n{}",
            super::advice(&e)
        )
    })
}

/// Runs both steps of [`plan`], printing each to `out`; `Err` says what went wrong and the
/// state the relay was left in.
pub async fn run(
    link: &mut ModbusLink,
    slave: u8,
    map: &RegisterMap,
    initial: Option<RelayState>,
    hold: Duration,
    out: &mut String,
) -> anyhow::Result<()> {
    let Some(write) = map.relay.as_ref().and_then(|r| r.write.as_ref()) else {
        anyhow::bail!("the meter's register map has no relay write");
    };
    let has_read = map.relay.as_ref().and_then(|r| r.read.as_ref()).is_some();
    let mut last_known = initial;
    for (i, target) in plan(initial).into_iter().enumerate() {
        if i > 0 && !hold.is_zero() {
            // Long enough to hear the relay and see the lamp before it switches back.
            tokio::time::sleep(hold).await;
        }
        if let Err(e) = write_relay(link, slave, write, target).await {
            anyhow::bail!(
                "{}: the write failed: {e}\n{}{}",
                verb(target),
                write_advice(&e, write.function),
                left_in(last_known)
            );
        }
        if !has_read {
            let _ = writeln!(
                out,
                "{}: written; the map has no relay read, so watch the meter's relay lamp \
                 (the next readings show whether energy stops)",
                verb(target)
            );
            last_known = None;
            continue;
        }
        match read_relay(link, slave, map).await {
            Ok(Some(state)) if state == target => {
                let _ = writeln!(
                    out,
                    "{}: written, read back {} - OK",
                    verb(target),
                    state_name(state)
                );
                last_known = Some(state);
            }
            Ok(state) => {
                let seen = state.map_or("nothing", state_name);
                anyhow::bail!(
                    "{}: the meter accepted the write but the relay reads back {seen}: the \
                     relay read address or values in the map may be wrong, or the relay did \
                     not move (protect/保电 mode, a local override, a stuck relay){}",
                    verb(target),
                    // The map and the meter disagree: what was read proves nothing.
                    left_in(None)
                );
            }
            Err(e) => anyhow::bail!(
                "{}: written, but the read-back failed: {e}\n{}{}",
                verb(target),
                read_advice(&e),
                left_in(None)
            ),
        }
    }
    let _ = writeln!(
        out,
        "relay test passed: the relay switches both ways on command{}",
        if has_read { " and reads back" } else { "" }
    );
    Ok(())
}

fn read_advice(e: &ReadError) -> &'static str {
    super::advice(e)
}

fn write_advice(e: &LinkError, function: RegisterFunction) -> String {
    match e {
        LinkError::Exception(1..=3) => format!(
            "The meter refuses a {function:?} write there: the relay write address or values \
             in the map are wrong for this meter, or its remote control is disabled (some \
             prepaid meters need remote control enabled, or refuse in protect/保电 mode)."
        ),
        LinkError::Exception(4) => "The meter could not switch the relay (exception 4): a \
             relay fault or a local override on the meter."
            .to_owned(),
        other => super::advice(&ReadError::Link(other.clone())).to_owned(),
    }
}

fn left_in(state: Option<RelayState>) -> String {
    match state {
        Some(RelayState::Open) => {
            "\nWARNING: the relay was left OPEN: the unit has no power.".to_owned()
        }
        Some(RelayState::Closed) => "\nThe relay was left closed.".to_owned(),
        None => {
            "\nWARNING: the relay's state is unknown: check the meter before leaving.".to_owned()
        }
    }
}

/// `wattpay-agent relay-test --meter ID [--yes]`: prompts, then runs the test.
pub async fn command(
    config: &AgentConfig,
    meter: &str,
    yes: bool,
    hold: ConfigDuration,
) -> anyhow::Result<()> {
    let mut m = configured_meter(config, meter).await?;
    let initial = initial_state(&mut m.link, m.slave, &m.map).await?;
    let steps = plan(initial);
    println!(
        "meter {meter} (slave {} on bus {}): relay is {}",
        m.slave,
        m.bus,
        initial.map_or("unknown (the map has no relay read)", state_name)
    );
    println!(
        "This will {} the relay, wait {}, then {} it: the unit's power switches.",
        verb(steps[0]),
        hold,
        verb(steps[1])
    );
    if !yes && !confirm()? {
        println!("cancelled; nothing was written");
        return Ok(());
    }
    let mut out = String::new();
    let result = run(
        &mut m.link,
        m.slave,
        &m.map,
        initial,
        hold.as_std(),
        &mut out,
    )
    .await;
    print!("{out}");
    result
}

fn confirm() -> anyhow::Result<bool> {
    use std::io::Write as _;
    print!("Type yes to go on: ");
    std::io::stdout().flush()?;
    let mut answer = String::new();
    std::io::stdin().read_line(&mut answer)?;
    Ok(answer.trim().eq_ignore_ascii_case("yes"))
}
