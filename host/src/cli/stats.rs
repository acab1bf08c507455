//! `agenthost stats`: how your review loop is going, from the event log.

use clap::Args;

use super::{Exit, Output};
use crate::state_dir::StateDirs;
use crate::supervisor::SupervisorError;
use crate::supervisor::store::{Store, StoreError, now_ms};
use crate::task::stats;

/// Arguments of `agenthost stats`.
#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  agenthost stats\n  agenthost stats --days 30 --json")]
pub struct StatsArgs {
    /// How many days back to look.
    #[arg(long, default_value_t = 14)]
    pub days: u32,

    /// Print machine-readable JSON.
    #[arg(long)]
    pub json: bool,
}

/// The statistics of the `days` days up to `now_ms`, from the event log (no store yet: no
/// events): what `agenthost stats` prints and what the cockpit's header shows.
pub(super) fn of_last_days(
    store: Option<&Store>,
    days: u32,
    now_ms: i64,
) -> Result<stats::Stats, StoreError> {
    let events = match store {
        Some(store) => store.events(None)?,
        None => Vec::new(),
    };
    Ok(stats::compute(
        &events,
        now_ms - i64::from(days) * 86_400_000,
    ))
}

/// Runs `agenthost stats`.
pub(super) fn run(args: &StatsArgs, output: &Output) -> miette::Result<Exit> {
    let dirs = StateDirs::discover().map_err(SupervisorError::from)?;
    let store = if dirs.database().exists() {
        Some(Store::open(&dirs.database()).map_err(SupervisorError::from)?)
    } else {
        None
    };
    let stats = of_last_days(store.as_ref(), args.days, now_ms()).map_err(SupervisorError::from)?;
    if args.json {
        let json = serde_json::to_string_pretty(&stats)
            .map_err(|err| miette::miette!("cannot encode the stats as JSON: {err}"))?;
        output.print(&format!("{json}\n"))?;
        return Ok(Exit::Success);
    }
    let mut text = format!("Last {} days\n", args.days);
    let minutes = |ms: i64| {
        crate::duration::format(std::time::Duration::from_secs(
            (ms / 60_000 * 60).max(0) as u64
        ))
    };
    text.push_str(&format!(
        "  accepted            {}\n  rejected            {}\n  acceptance rate     {}\n  reviews             {}\n  median review wait  {}\n  attempts per task   {}\n",
        stats.accepted,
        stats.rejected,
        stats
            .acceptance_rate
            .map_or("-".to_string(), |r| format!("{:.0}%", r * 100.0)),
        stats.reviews,
        stats
            .median_review_latency_ms
            .map_or("-".to_string(), |ms| if ms < 60_000 { "under 1m".to_string() } else { minutes(ms) }),
        stats
            .attempts_per_task
            .map_or("-".to_string(), |a| format!("{a:.1}")),
    ));
    if !stats.per_day.is_empty() {
        text.push_str("\n  day         accepted  rejected\n");
        for day in &stats.per_day {
            text.push_str(&format!(
                "  {}  {:>8}  {:>8}\n",
                day.day, day.accepted, day.rejected
            ));
        }
    }
    output.print(&text)?;
    Ok(Exit::Success)
}
